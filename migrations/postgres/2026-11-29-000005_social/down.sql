DROP TABLE oauth_states;
DROP TABLE identities;
