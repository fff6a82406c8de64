use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub kind: String,
    pub actor_id: Option<String>,
    pub subject_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub created_at: NaiveDateTime,
}

/// What `GET /admin/audit` filters by.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Events where the user acted or was acted on.
    pub user_id: Option<String>,
    pub kind: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Events older than this id (the previous page's last).
    pub before: Option<String>,
}

impl AuditEvent {
    /// Forgets where a user acted from (IP, user agent) in every row about them; the rows
    /// stay, naming only ids.
    pub fn forget_client(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        diesel::update(
            audit_events::table.filter(
                audit_events::subject_id
                    .eq(user_id)
                    .or(audit_events::actor_id.eq(user_id)),
            ),
        )
        .set((
            audit_events::ip.eq(None::<String>),
            audit_events::user_agent.eq(None::<String>),
        ))
        .execute(conn)
    }

    pub fn insert(conn: &mut DbConn, e: &AuditEvent) -> QueryResult<usize> {
        diesel::insert_into(audit_events::table)
            .values(e)
            .execute(conn)
    }

    /// Newest first.
    pub fn list(conn: &mut DbConn, f: &AuditFilter, limit: i64) -> QueryResult<Vec<AuditEvent>> {
        let mut q = audit_events::table
            .select(AuditEvent::as_select())
            .into_boxed();
        if let Some(u) = &f.user_id {
            q = q.filter(
                audit_events::subject_id
                    .eq(u.clone())
                    .or(audit_events::actor_id.eq(u.clone())),
            );
        }
        if let Some(k) = &f.kind {
            q = q.filter(audit_events::kind.eq(k.clone()));
        }
        if let Some(since) = f.since {
            q = q.filter(audit_events::created_at.ge(since));
        }
        if let Some(until) = f.until {
            q = q.filter(audit_events::created_at.lt(until));
        }
        if let Some(b) = &f.before {
            q = q.filter(audit_events::id.lt(b.clone()));
        }
        q.order(audit_events::id.desc()).limit(limit).load(conn)
    }

    pub fn delete_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(audit_events::table.filter(audit_events::created_at.lt(before)))
            .execute(conn)
    }
}
