//! Project settings that Herd understands, and the check every change goes through (CLI and admin API alike), so
//! that a typo is refused when it is made instead of silently doing nothing.

use std::collections::BTreeMap;

use crate::segment::WRITE_KEY_SETTING;

/// Every setting key a project may have.
pub fn known_keys() -> Vec<&'static str> {
    let mut keys = vec![WRITE_KEY_SETTING, herd_query::TIME_ZONE_SETTING];
    keys.extend(herd_segment::SETTING_KEYS);
    keys
}

/// Checks setting `key` being set to `value` (or removed with `None`) on top of `current`.
pub fn check(current: &BTreeMap<String, String>, key: &str, value: Option<&str>) -> Result<(), String> {
    if let Some(name) = key.strip_prefix(herd_model::accounts::DYNAMIC_PROPERTY_SETTING_PREFIX) {
        return check_dynamic(name, value);
    }
    if let Some(id) = key.strip_prefix(herd_model::cohort::COHORT_SETTING_PREFIX) {
        herd_model::cohort::check_id(id)?;
        let Some(json) = value else { return Ok(()) };
        let cohort = herd_model::cohort::Cohort::parse(json)?;
        if cohort.id != id {
            return Err(format!("the cohort's id {:?} differs from the setting's {id:?}", cohort.id));
        }
        return Ok(());
    }
    if !known_keys().contains(&key) {
        return Err(format!("unknown project setting {key:?}; known settings: {}", known_keys().join(", ")));
    }
    let mut next = current.clone();
    match value {
        Some(v) => next.insert(key.to_owned(), v.to_owned()),
        None => next.remove(key),
    };
    if key == herd_query::TIME_ZONE_SETTING
        && let Some(v) = value
    {
        herd_query::buckets::Zone::parse(v)?;
    }
    if key == WRITE_KEY_SETTING && value.is_some_and(|v| v.trim().is_empty()) {
        return Err("segment.write_key must not be blank; remove the setting to use the project's API key".into());
    }
    herd_segment::SegmentSettings::from_project_settings(&next).map(|_| ()).map_err(|e| e.to_string())
}

/// A dynamic group property definition (`dynamic_property.<name>` = its JSON), removable at any time.
fn check_dynamic(name: &str, value: Option<&str>) -> Result<(), String> {
    herd_model::accounts::check_name(name)?;
    let Some(json) = value else { return Ok(()) };
    let def = herd_model::accounts::DynamicProperty::parse(json)?;
    if def.name != name {
        return Err(format!("the definition's name {:?} differs from the setting's {name:?}", def.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_settings() {
        let empty = BTreeMap::new();
        assert!(check(&empty, "segment.group_type_trait", Some("group_type")).is_ok());
        let err = check(&empty, "segment.group_type_trai", Some("x")).unwrap_err();
        assert!(err.contains("unknown project setting") && err.contains("segment.group_type_trait"), "{err}");
        assert!(check(&empty, WRITE_KEY_SETTING, Some(" ")).is_err());
        let wau = r#"{"name":"wau","group_type":"org","event":{"event":"active"},"metric":{"type":"uniques"},"window":{"rolling":{"days":7}}}"#;
        assert!(check(&empty, "dynamic_property.wau", Some(wau)).is_ok());
        assert!(check(&empty, "dynamic_property.other", Some(wau)).unwrap_err().contains("differs"));
        assert!(check(&empty, "dynamic_property.wau", Some("{}")).is_err());
        assert!(check(&empty, "dynamic_property.wau", None).is_ok());
    }
}
