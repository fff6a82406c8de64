use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::oauth_states;
use crate::db::DbConn;

/// A social sign-in under way: what the callback needs to finish it.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_states)]
pub struct OAuthState {
    pub id: String,
    pub state_hash: String,
    pub provider: String,
    pub browser_hash: String,
    pub nonce: Option<String>,
    pub pkce_verifier: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Set when a signed-in user links an identity: the account it goes to.
    pub link_user_id: Option<String>,
    /// ... and the session that asked for it, which must still live when the link is made.
    pub link_session_id: Option<String>,
}

/// Leaves out the nonce and the PKCE verifier.
impl std::fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthState")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl OAuthState {
    /// What the link this state carries is for; `None` for a sign-in, and for a link
    /// recorded without its session (before sessions were recorded), which cannot be made.
    pub fn link(&self) -> Option<crate::social::LinkFor> {
        Some(crate::social::LinkFor {
            user_id: self.link_user_id.clone()?,
            session_id: self.link_session_id.clone()?,
        })
    }

    pub fn insert(conn: &mut DbConn, state: &OAuthState) -> QueryResult<usize> {
        diesel::insert_into(oauth_states::table)
            .values(state)
            .execute(conn)
    }

    /// Takes the state named by `state_hash` out: found at most once, by one caller.
    pub fn take(conn: &mut DbConn, state_hash: &str) -> QueryResult<Option<OAuthState>> {
        let Some(found) = oauth_states::table
            .filter(oauth_states::state_hash.eq(state_hash))
            .select(OAuthState::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let deleted = diesel::delete(oauth_states::table.find(&found.id)).execute(conn)?;
        Ok((deleted == 1).then_some(found))
    }

    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(before)))
            .execute(conn)
    }
}
