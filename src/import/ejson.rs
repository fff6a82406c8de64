//! MongoDB Extended JSON v2, as `mongoexport` writes it: relaxed (the default) or
//! canonical (`--jsonFormat=canonical`). Only the types a user document holds.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

/// A string, or an ObjectId (`{"$oid": "…"}`) as its hex.
pub fn id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("$oid").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// A plain string (`null` and other types are none).
pub fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A boolean; absent is `false`.
pub fn flag(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// A date: `{"$date": "2024-05-01T12:34:56.789Z"}` (relaxed), `{"$date": {"$numberLong":
/// "<ms>"}}` (canonical, and relaxed outside 1970–9999), or a bare number of ms.
pub fn date(v: Option<&Value>) -> Option<NaiveDateTime> {
    let inner = match v? {
        Value::Object(o) => o.get("$date")?,
        other => other,
    };
    match inner {
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|d| d.naive_utc()),
        Value::Object(o) => {
            let ms: i64 = o.get("$numberLong")?.as_str()?.parse().ok()?;
            DateTime::from_timestamp_millis(ms).map(|d| d.naive_utc())
        }
        Value::Number(n) => DateTime::from_timestamp_millis(n.as_i64()?).map(|d| d.naive_utc()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_forms_of_ids_and_dates() {
        assert_eq!(
            id(&json!({"$oid": "65f0c1aa"})).as_deref(),
            Some("65f0c1aa")
        );
        assert_eq!(id(&json!("abc")).as_deref(), Some("abc"));
        let relaxed = date(Some(&json!({"$date": "2024-03-12T09:15:02.113Z"}))).unwrap();
        let canonical = date(Some(&json!({"$date": {"$numberLong": "1710234902113"}}))).unwrap();
        assert_eq!(relaxed, canonical);
        assert_eq!(
            date(Some(&json!({"$date": "2024-03-12T09:15:02Z"})))
                .unwrap()
                .and_utc()
                .timestamp(),
            1710234902
        );
        assert!(date(Some(&json!("yesterday"))).is_none());
        assert!(!flag(None) && flag(Some(&json!(true))));
    }
}
