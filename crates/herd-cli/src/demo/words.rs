//! Fixed vocabularies of the demo dataset: company-name words, industries, countries with their UTC offsets,
//! platforms, and the weekly and daily activity curves.

/// First words of generated company names.
pub(crate) const NAME_FIRST: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Pied Piper",
    "Aperture",
    "Black Mesa",
    "Massive",
    "Nakatomi",
    "Virtucon",
    "Dunder",
    "Bluth",
    "Prestige",
    "Sterling",
    "Wernham",
    "Gekko",
    "Pendant",
    "Duff",
    "Krusty",
    "Sirius",
    "Blue Sun",
    "Ollivander",
    "Zorg",
    "Spacely",
    "Cogswell",
    "Benthic",
    "Ingen",
    "Tessier",
    "Weyland",
    "Rekall",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Proseware",
    "Adatum",
    "Woodgrove",
    "Lucerne",
    "Fourth Coffee",
    "Alpine",
    "Margie",
    "Wingtip",
    "Coho",
    "Humongous",
    "Trey",
    "Graphic",
    "Blue Yonder",
    "Southridge",
    "Relecloud",
    "Lamna",
    "Munson",
    "Nod",
    "Tandem",
    "Brightline",
    "Quantum",
    "Evergreen",
    "Redwood",
    "Summit",
    "Harbor",
    "Beacon",
    "Polaris",
    "Juniper",
    "Cobalt",
    "Lumen",
    "Atlas",
    "Meridian",
    "Orbit",
    "Falcon",
];

/// Second words of generated company names.
pub(crate) const NAME_SECOND: &[&str] = &[
    "Corp",
    "Inc",
    "Labs",
    "Systems",
    "Group",
    "Software",
    "Analytics",
    "Logistics",
    "Industries",
    "Partners",
    "Technologies",
    "Health",
    "Capital",
    "Media",
    "Studios",
    "Networks",
    "Foods",
    "Energy",
    "Robotics",
    "Cloud",
];

/// Industries, with weights.
pub(crate) const INDUSTRIES: &[(&str, u32)] = &[
    ("Software", 24),
    ("Fintech", 12),
    ("Healthcare", 10),
    ("Retail", 10),
    ("Education", 8),
    ("Media", 8),
    ("Manufacturing", 8),
    ("Logistics", 6),
    ("Real Estate", 5),
    ("Nonprofit", 4),
    ("Consulting", 5),
];

/// A country, its weight among customers, and a typical UTC offset in minutes (activity follows local time).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Country {
    pub name: &'static str,
    pub weight: u32,
    pub offset_min: i64,
}

pub(crate) const COUNTRIES: &[Country] = &[
    Country { name: "United States", weight: 34, offset_min: -300 },
    Country { name: "United Kingdom", weight: 10, offset_min: 0 },
    Country { name: "Germany", weight: 10, offset_min: 60 },
    Country { name: "France", weight: 6, offset_min: 60 },
    Country { name: "Canada", weight: 6, offset_min: -300 },
    Country { name: "Netherlands", weight: 4, offset_min: 60 },
    Country { name: "India", weight: 7, offset_min: 330 },
    Country { name: "Brazil", weight: 5, offset_min: -180 },
    Country { name: "Australia", weight: 4, offset_min: 600 },
    Country { name: "Japan", weight: 4, offset_min: 540 },
    Country { name: "Spain", weight: 5, offset_min: 60 },
    Country { name: "Sweden", weight: 5, offset_min: 60 },
];

/// A platform as the HTTP API's `platform` and `os_name` fields name it, with its weight.
pub(crate) const PLATFORMS: &[(&str, &str, u32)] = &[
    ("Web", "Chrome", 46),
    ("Web", "Safari", 10),
    ("Web", "Firefox", 6),
    ("Web", "Edge", 6),
    ("macOS", "Mac OS X", 12),
    ("Windows", "Windows", 10),
    ("iOS", "iOS", 6),
    ("Android", "Android", 4),
];

/// Roles inside an account (the first member of an account is always `admin`), with weights.
pub(crate) const ROLES: &[(&str, u32)] = &[("member", 60), ("manager", 18), ("admin", 8), ("viewer", 14)];

/// Relative activity by local weekday, Sunday first.
pub(crate) const WEEKDAY_FACTOR: [f64; 7] = [0.15, 1.0, 1.08, 1.05, 1.0, 0.85, 0.2];

/// Relative activity by local hour of day: a morning peak, a lunch dip, an afternoon peak, quiet nights.
pub(crate) const HOUR_WEIGHTS: [f64; 24] = [
    0.8, 0.4, 0.25, 0.2, 0.25, 0.5, 1.2, 3.0, 6.5, 9.5, 10.0, 9.0, 6.5, 7.5, 9.0, 9.0, 8.0, 6.0, 4.0, 3.0, 2.8, 2.4,
    1.8, 1.2,
];

/// Task priorities, file types and project templates used in event properties.
pub(crate) const PRIORITIES: &[&str] = &["low", "medium", "medium", "high", "urgent"];
pub(crate) const FILE_TYPES: &[&str] = &["pdf", "png", "jpg", "docx", "xlsx", "csv", "fig"];
pub(crate) const TEMPLATES: &[&str] = &["blank", "kanban", "roadmap", "sprint", "bug tracker", "launch plan"];
pub(crate) const SIGNUP_METHODS: &[&str] = &["email", "google", "google", "microsoft", "sso"];
