//! Per-project Segment settings: the group type/value traits and the page/screen event names
//! (research `segment.md` §3.1, §3.6, §3.8).
//!
//! | key | value | default |
//! |---|---|---|
//! | `segment.group_type_trait` | a trait name (exact key, or a dotted path into nested traits) | unset |
//! | `segment.group_value_trait` | a trait name | unset |
//! | `segment.page_event_name` | a template with `{name}` and `{category}` | `Viewed {category} {name} Page` |
//! | `segment.screen_event_name` | a template with `{name}` and `{category}` | `Viewed {category} {name} Screen` |
//!
//! Event-name templates. Segment's classic cloud destination names a page event with facade's
//! `Page.event(fullName())`: `"Viewed " + fullName + " Page"`, where `fullName` is `"<category> <name>"` when
//! both are present, else the name, and **`Loaded a Page`** when there is no name (`Screen`: `Viewed … Screen` /
//! `Loaded a Screen`) — legacy fixture `page-full`: name `Analytics iOS`, category `Docs` → `Viewed Docs Analytics
//! iOS Page`. The default templates reproduce that, and a category-only call gets `Viewed Docs Page`, which is
//! what the classic "Track Categorized Pages" setting sends. Placeholders are replaced by the call's values, runs
//! of spaces left by empty placeholders collapse to one, and when every placeholder of the template is empty the
//! call gets the fixed fallback `Loaded a Page` / `Loaded a Screen`. A template without placeholders is a constant
//! name for every call: `Loaded a Page` is classic's "Track All Pages"; `Viewed {name}` is Amplitude (Actions)'s
//! preset. Any other `{…}`, or a stray brace, is a settings error.

use std::collections::BTreeMap;

/// The settings keys this crate reads.
pub const SETTING_KEYS: [&str; 4] =
    ["segment.group_type_trait", "segment.group_value_trait", "segment.page_event_name", "segment.screen_event_name"];

/// Fallback page event name when a page call has neither name nor category (facade `Page.event()`).
pub const PAGE_FALLBACK: &str = "Loaded a Page";
/// Fallback screen event name (facade `Screen.event()`).
pub const SCREEN_FALLBACK: &str = "Loaded a Screen";
/// Default page template: classic cloud's `Viewed <category> <name> Page`.
pub const PAGE_TEMPLATE: &str = "Viewed {category} {name} Page";
/// Default screen template.
pub const SCREEN_TEMPLATE: &str = "Viewed {category} {name} Screen";

/// A project setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("project setting `{key}` = {value:?}: {problem}")]
pub struct SettingsError {
    pub key: String,
    pub value: String,
    pub problem: String,
}

/// How page or screen calls are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageNaming {
    template: String,
    fallback: String,
}

/// One piece of a parsed template.
enum Piece<'a> {
    Text(&'a str),
    Name,
    Category,
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let Some(open) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        if rest[open..].starts_with('}') {
            return Err("has a `}` without a matching `{`; use `{name}` and `{category}` only".into());
        }
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("has a `{` that is never closed; use `{name}` and `{category}` only".into());
        };
        out.push(match &after[..close] {
            "name" => Piece::Name,
            "category" => Piece::Category,
            other => {
                return Err(format!("has the unknown placeholder `{{{other}}}`; use `{{name}}` and `{{category}}`"));
            }
        });
        rest = &after[close + 1..];
    }
    Ok(out)
}

impl PageNaming {
    /// A template (see the module docs) and the name used when all its placeholders are empty.
    pub fn new(template: &str, fallback: &str) -> Result<PageNaming, String> {
        let template = template.trim();
        if template.is_empty() {
            return Err("is empty; give an event name or a template such as `Viewed {name} Page`".into());
        }
        pieces(template)?;
        Ok(PageNaming { template: template.to_owned(), fallback: fallback.to_owned() })
    }

    /// `Viewed {category} {name} Page`, falling back to `Loaded a Page`.
    pub fn page_default() -> PageNaming {
        PageNaming { template: PAGE_TEMPLATE.to_owned(), fallback: PAGE_FALLBACK.to_owned() }
    }

    /// `Viewed {category} {name} Screen`, falling back to `Loaded a Screen`.
    pub fn screen_default() -> PageNaming {
        PageNaming { template: SCREEN_TEMPLATE.to_owned(), fallback: SCREEN_FALLBACK.to_owned() }
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    pub fn fallback(&self) -> &str {
        &self.fallback
    }

    /// The event name of one call.
    pub fn event_name(&self, name: Option<&str>, category: Option<&str>) -> String {
        // Validated in `new`; an unparsable template cannot be built.
        let Ok(pieces) = pieces(&self.template) else { return self.fallback.clone() };
        let name = name.map(str::trim).unwrap_or_default();
        let category = category.map(str::trim).unwrap_or_default();
        let mut placeholders = 0;
        let mut filled = 0;
        let mut out = String::new();
        for piece in pieces {
            let value = match piece {
                Piece::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Name => name,
                Piece::Category => category,
            };
            placeholders += 1;
            if !value.is_empty() {
                filled += 1;
            }
            out.push_str(value);
        }
        if placeholders > 0 && filled == 0 {
            return self.fallback.clone();
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// The Segment settings of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSettings {
    /// The trait whose *value* is the Amplitude group type (classic "Group Type Trait").
    pub group_type_trait: Option<String>,
    /// The trait whose *value* is the group value (classic "Group Value Trait").
    pub group_value_trait: Option<String>,
    pub page_event_name: PageNaming,
    pub screen_event_name: PageNaming,
}

impl Default for SegmentSettings {
    fn default() -> Self {
        SegmentSettings {
            group_type_trait: None,
            group_value_trait: None,
            page_event_name: PageNaming::page_default(),
            screen_event_name: PageNaming::screen_default(),
        }
    }
}

impl SegmentSettings {
    /// Reads the `segment.*` keys of [`SETTING_KEYS`] from a project's settings; other keys are ignored.
    /// An empty value means the default.
    pub fn from_project_settings(settings: &BTreeMap<String, String>) -> Result<SegmentSettings, SettingsError> {
        let mut out = SegmentSettings::default();
        let get = |key: &str| settings.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let error = |key: &str, value: &str, problem: String| SettingsError {
            key: key.to_owned(),
            value: value.to_owned(),
            problem,
        };
        out.group_type_trait = get(SETTING_KEYS[0]).map(str::to_owned);
        out.group_value_trait = get(SETTING_KEYS[1]).map(str::to_owned);
        if let Some(v) = get(SETTING_KEYS[2]) {
            out.page_event_name = PageNaming::new(v, PAGE_FALLBACK).map_err(|p| error(SETTING_KEYS[2], v, p))?;
        }
        if let Some(v) = get(SETTING_KEYS[3]) {
            out.screen_event_name = PageNaming::new(v, SCREEN_FALLBACK).map_err(|p| error(SETTING_KEYS[3], v, p))?;
        }
        Ok(out)
    }

    /// Both group traits, when both are configured (classic: with either missing, `[Segment] Group` is used).
    pub fn group_traits(&self) -> Option<(&str, &str)> {
        Some((self.group_type_trait.as_deref()?, self.group_value_trait.as_deref()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn default_names_follow_classic_cloud() {
        let page = PageNaming::page_default();
        assert_eq!(page.event_name(Some("Analytics iOS"), Some("Docs")), "Viewed Docs Analytics iOS Page");
        assert_eq!(page.event_name(Some("Signup"), None), "Viewed Signup Page");
        assert_eq!(page.event_name(None, Some("Docs")), "Viewed Docs Page");
        assert_eq!(page.event_name(None, None), "Loaded a Page");
        assert_eq!(page.event_name(Some("  "), Some("")), "Loaded a Page");
        let screen = PageNaming::screen_default();
        assert_eq!(screen.event_name(Some("Home"), None), "Viewed Home Screen");
        assert_eq!(screen.event_name(None, None), "Loaded a Screen");
    }

    #[test]
    fn templates() {
        let actions = PageNaming::new("Viewed {name}", PAGE_FALLBACK).expect("valid");
        assert_eq!(actions.event_name(Some("Home"), Some("Docs")), "Viewed Home");
        assert_eq!(actions.event_name(None, Some("Docs")), "Loaded a Page");
        let all = PageNaming::new("Loaded a Page", PAGE_FALLBACK).expect("valid");
        assert_eq!(all.event_name(Some("Home"), None), "Loaded a Page");
        for bad in ["", "  ", "Viewed {title}", "Viewed {name", "Viewed name}", "{{name}}"] {
            assert!(PageNaming::new(bad, PAGE_FALLBACK).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn from_project_settings() {
        let s = SegmentSettings::from_project_settings(&map(&[
            ("segment.group_type_trait", " group_type "),
            ("segment.group_value_trait", "name"),
            ("segment.page_event_name", "Viewed {name}"),
            ("segment.screen_event_name", ""),
            ("segment.write_key", "ignored here"),
        ]))
        .expect("valid");
        assert_eq!(s.group_traits(), Some(("group_type", "name")));
        assert_eq!(s.page_event_name.template(), "Viewed {name}");
        assert_eq!(s.screen_event_name, PageNaming::screen_default());
        assert_eq!(SegmentSettings::from_project_settings(&BTreeMap::new()), Ok(SegmentSettings::default()));
        let only_type = SegmentSettings::from_project_settings(&map(&[("segment.group_type_trait", "t")]));
        assert_eq!(only_type.map(|s| s.group_traits().is_none()), Ok(true));
        let err = SegmentSettings::from_project_settings(&map(&[("segment.page_event_name", "Viewed {page}")]))
            .expect_err("unknown placeholder");
        assert_eq!(
            err.to_string(),
            "project setting `segment.page_event_name` = \"Viewed {page}\": has the unknown placeholder `{page}`; \
             use `{name}` and `{category}`"
        );
    }
}
