//! Plausible company names from word lists, including the awkward ones real data has:
//! commas, double quotes, a pasted second address line, non-ASCII letters.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::tree::Role;

/// A name shape that must occur at least once in every dataset large enough to hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awkward {
    /// `Northwind Logistics, Inc.`
    Comma,
    /// `The "Best" Bakery`
    Quote,
    /// A second line pasted into the name field.
    Newline,
    /// `Zürich Dental Group AG`, `東京ロジスティクス株式会社`
    NonAscii,
}

impl Awkward {
    pub const ALL: [Awkward; 4] = [Self::Comma, Self::Quote, Self::Newline, Self::NonAscii];
}

const WORDS: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Blue Harbor",
    "Silver Birch",
    "Red Rock",
    "Granite",
    "Cedar",
    "Maple",
    "Summit",
    "Pioneer",
    "Atlas",
    "Orion",
    "Helix",
    "Lumen",
    "Vertex",
    "Keystone",
    "Riverbend",
    "Evergreen",
    "Ironwood",
    "Bright Path",
    "Clearwater",
    "Stonebridge",
    "Harborview",
    "Meridian",
    "Nimbus",
    "Polaris",
    "Sapphire",
    "Tidewater",
    "Westfield",
    "Zenith",
    "Alpine",
    "Beacon",
    "Cobalt",
    "Falcon",
    "Glacier",
    "Horizon",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lighthouse",
    "Mosaic",
    "Nova",
    "Oakridge",
    "Pinnacle",
    "Quarry Hill",
    "Redwood",
    "Sterling",
    "Trident",
    "Upland",
    "Vanguard",
    "Willow Creek",
    "Copper Canyon",
    "Greenfield",
    "Highland",
    "Lakeside",
    "Magnolia",
    "Northstar",
    "Old Mill",
    "Pacific Crest",
    "Riverside",
    "Seabright",
    "Three Oaks",
    "Twin Pines",
    "Wolf Creek",
    "Amberline",
    "Bluebird",
    "Crescent",
    "Driftwood",
    "Eastgate",
    "Foxglove",
    "Goldleaf",
    "Hawthorne",
    "Ivy Lane",
    "Kingsbridge",
    "Larkspur",
    "Moonstone",
    "Oceanic",
    "Parkway",
    "Silverline",
];

const INDUSTRIES: &[&str] = &[
    "Logistics",
    "Health",
    "Dental Group",
    "Legal",
    "Capital",
    "Insurance",
    "Engineering",
    "Manufacturing",
    "Foods",
    "Pharma",
    "Biotech",
    "Energy",
    "Retail",
    "Media",
    "Consulting",
    "Architects",
    "Robotics",
    "Analytics",
    "Motors",
    "Textiles",
    "Hotels",
    "Freight",
    "Clinics",
    "Labs",
    "Software",
    "Construction",
    "Farms",
    "Brewing",
    "Realty",
    "Accounting",
    "Telecom",
    "Academy",
    "Aerospace",
    "Marine",
    "Packaging",
    "Dairy",
    "Pharmacy",
    "Veterinary",
    "Publishing",
    "Water Works",
];

const SURNAMES: &[&str] = &[
    "Keller",
    "Novak",
    "Moreau",
    "Lindqvist",
    "Okafor",
    "Tanaka",
    "Romero",
    "Fischer",
    "Walsh",
    "Haddad",
    "Kowalski",
    "Bianchi",
    "Jansen",
    "Murphy",
    "Dubois",
    "Nakamura",
    "Olsen",
    "Patel",
    "Schmidt",
    "Reyes",
    "Andersen",
    "Baker",
    "Costa",
    "Dimitrov",
    "Eriksson",
    "Ferreira",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jensen",
    "Kim",
    "Larsen",
    "Mendes",
    "Nowak",
    "O'Brien",
    "Petrov",
    "Quinn",
    "Rossi",
    "Silva",
    "Thompson",
    "Varga",
    "Weber",
    "Young",
    "Zimmermann",
    "Hughes",
    "Mensah",
    "Sato",
    "Chen",
    "Kaur",
    "Brennan",
];

const PROFESSIONS: &[&str] = &[
    "Legal",
    "Partners",
    "Associates",
    "Tax Advisors",
    "Architects",
    "Notaries",
    "Accountants",
];

const PROVIDER_NOUNS: &[&str] = &[
    "Cloud",
    "Hosting",
    "Telecom",
    "Managed Services",
    "Data Centers",
    "Networks",
    "Cloud Services",
    "Digital Infrastructure",
];

const REGIONS: &[&str] = &[
    "EMEA",
    "Americas",
    "APAC",
    "Europe",
    "North America",
    "Nordics",
];

const RESELLER_NOUNS: &[&str] = &[
    "IT Partners",
    "Systems",
    "Solutions",
    "Technology Group",
    "Computing",
    "IT Services",
    "Integration",
    "Consulting",
    "Digital",
    "Distribution",
    "Tech",
    "Business Systems",
];

const ASCII_CITIES: &[&str] = &[
    "Berlin",
    "Austin",
    "Denver",
    "Toronto",
    "Lyon",
    "Madrid",
    "Oslo",
    "Dublin",
    "Boston",
    "Seattle",
    "Chicago",
    "Leeds",
    "Porto",
    "Vienna",
    "Prague",
    "Singapore",
    "Sydney",
    "Auckland",
    "Nairobi",
    "Cape Town",
    "Mumbai",
    "Dubai",
    "Warsaw",
    "Helsinki",
    "Rotterdam",
    "Antwerp",
    "Milan",
    "Phoenix",
    "Glasgow",
    "Hamburg",
];

const NON_ASCII_CITIES: &[&str] = &[
    "Zürich",
    "São Paulo",
    "東京",
    "München",
    "Kraków",
    "Malmö",
    "Montréal",
    "Bogotá",
    "Göteborg",
    "Düsseldorf",
    "Łódź",
    "Córdoba",
    "Århus",
    "大阪",
    "서울",
    "Reykjavík",
    "Genève",
];

/// Parts of Japanese company names, written the way the home register writes them.
const JP_PLACES: &[&str] = &[
    "東京",
    "大阪",
    "名古屋",
    "京都",
    "横浜",
    "札幌",
    "福岡",
    "神戸",
    "さくら",
    "みらい",
    "富士",
    "日本",
];
const JP_TRADES: &[&str] = &[
    "ロジスティクス",
    "フーズ",
    "システム",
    "精密工業",
    "メディカル",
    "建設",
    "製薬",
    "電機",
    "商事",
    "ソフトウェア",
];

const DEPARTMENTS: &[&str] = &[
    "Finance",
    "R&D",
    "Operations",
    "HR",
    "Sales",
    "Support",
    "IT",
    "Procurement",
    "Marketing",
    "Legal",
    "Quality",
];

const UNITS: &[&str] = &[
    "Branch",
    "Office",
    "Plant",
    "Site",
    "Campus",
    "Warehouse",
    "Clinic",
    "Store",
];

/// `The "Best" Bakery`: a nickname in quotes, as small businesses write their names.
const QUOTED_ADJECTIVES: &[&str] = &[
    "Best", "Green", "Happy", "Little", "Original", "Real", "Golden", "Friendly", "Famous",
    "Corner", "Busy", "Lucky",
];
const QUOTED_SHOPS: &[&str] = &[
    "Bakery",
    "Grocer",
    "Plumber",
    "Print Shop",
    "Pizza Co.",
    "Garage",
    "Florist",
    "Tailor",
    "Bike Shop",
    "Coffee House",
    "Bookshop",
    "Dentist",
];

const SECOND_LINES: &[&str] = &[
    "Attn: Accounts Payable",
    "c/o Finance Department",
    "Billing contact: see contract",
    "(formerly Westlake Systems)",
];

/// Legal suffixes with the separator real registers use (US style may carry a comma).
const SUFFIXES: &[&str] = &[
    " Inc.",
    " LLC",
    " Ltd",
    " GmbH",
    " AG",
    " S.A.",
    " B.V.",
    " AB",
    " Oy",
    " Pty Ltd",
    " SAS",
    " S.p.A.",
    " Sp. z o.o.",
    " Ltda.",
    " plc",
    " Corp.",
];

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list.choose(rng).expect("word lists are not empty")
}

fn city(rng: &mut ChaCha8Rng) -> &'static str {
    if rng.gen_bool(0.25) {
        pick(rng, NON_ASCII_CITIES)
    } else {
        pick(rng, ASCII_CITIES)
    }
}

/// The first word of a company name, for naming its divisions (`Northwind Zürich`).
fn short_of(name: &str) -> &str {
    let first = name.split_whitespace().next().unwrap_or(name);
    let trimmed = first.trim_matches(|c: char| c == ',' || c == '"');
    if trimmed.is_empty() || trimmed == "The" {
        name.lines().next().unwrap_or(name)
    } else {
        trimmed
    }
}

fn japanese(rng: &mut ChaCha8Rng) -> String {
    let (place, trade) = (pick(rng, JP_PLACES), pick(rng, JP_TRADES));
    if rng.gen_bool(0.3) {
        format!("株式会社{place}{trade}")
    } else {
        format!("{place}{trade}株式会社")
    }
}

fn company_base(rng: &mut ChaCha8Rng) -> String {
    match rng.gen_range(0..100) {
        0..=29 => format!("{} {}", pick(rng, WORDS), pick(rng, INDUSTRIES)),
        30..=59 => format!(
            "{} {} {}",
            pick(rng, WORDS),
            pick(rng, ASCII_CITIES),
            pick(rng, INDUSTRIES)
        ),
        60..=74 => format!(
            "{} & {} {}",
            pick(rng, SURNAMES),
            pick(rng, SURNAMES),
            pick(rng, PROFESSIONS)
        ),
        75..=84 => format!("{} {}", pick(rng, SURNAMES), pick(rng, INDUSTRIES)),
        85..=98 => format!("{} {}", city(rng), pick(rng, INDUSTRIES)),
        _ => japanese(rng),
    }
}

fn with_suffix(rng: &mut ChaCha8Rng, mut base: String, comma: bool) -> String {
    if base.ends_with("株式会社") || base.starts_with("株式会社") {
        return base;
    }
    if comma {
        base.push_str(if rng.gen_bool(0.6) { ", Inc." } else { ", LLC" });
    } else if rng.gen_bool(0.55) {
        base.push_str(pick(rng, SUFFIXES));
    }
    base
}

/// A customer's name; `awkward` forces one of the shapes that need care in CSV and UIs.
fn customer(rng: &mut ChaCha8Rng, awkward: Option<Awkward>) -> String {
    let awkward = awkward.or_else(|| match rng.gen_range(0..10_000) {
        0..=399 => Some(Awkward::Comma),
        400..=429 => Some(Awkward::Quote),
        430..=434 => Some(Awkward::Newline),
        _ => None,
    });
    match awkward {
        Some(Awkward::Comma) => {
            let base = format!("{} {}", pick(rng, WORDS), pick(rng, INDUSTRIES));
            with_suffix(rng, base, true)
        }
        Some(Awkward::Quote) => {
            let (adj, shop) = (pick(rng, QUOTED_ADJECTIVES), pick(rng, QUOTED_SHOPS));
            format!("The \"{adj}\" {shop}")
        }
        Some(Awkward::Newline) => {
            let base = company_base(rng);
            let first = with_suffix(rng, base, false);
            format!("{first}\n{}", pick(rng, SECOND_LINES))
        }
        Some(Awkward::NonAscii) => {
            if rng.gen_bool(0.3) {
                japanese(rng)
            } else {
                let base = format!("{} {}", pick(rng, NON_ASCII_CITIES), pick(rng, INDUSTRIES));
                with_suffix(rng, base, false)
            }
        }
        None => {
            let base = company_base(rng);
            with_suffix(rng, base, false)
        }
    }
}

/// Names accounts; service providers get distinct names.
pub(crate) struct Namer {
    rng: ChaCha8Rng,
    provider_words: Vec<&'static str>,
}

impl Namer {
    pub fn new(mut rng: ChaCha8Rng) -> Self {
        let mut provider_words = WORDS.to_vec();
        provider_words.shuffle(&mut rng);
        Self {
            rng,
            provider_words,
        }
    }

    /// The name of an account given its role and its parent's.
    pub fn name(
        &mut self,
        role: Role,
        parent_name: Option<&str>,
        parent_role: Option<Role>,
        awkward: Option<Awkward>,
    ) -> String {
        let rng = &mut self.rng;
        if awkward.is_some() {
            return customer(rng, awkward);
        }
        match role {
            Role::Provider => {
                let word = match self.provider_words.pop() {
                    Some(w) => w,
                    None => pick(rng, WORDS),
                };
                let mut s = format!("{word} {}", pick(rng, PROVIDER_NOUNS));
                if rng.gen_bool(0.4) {
                    s.push(' ');
                    s.push_str(pick(rng, REGIONS));
                }
                s
            }
            Role::Reseller => {
                let base = format!("{} {}", pick(rng, WORDS), pick(rng, RESELLER_NOUNS));
                let comma = rng.gen_bool(0.04);
                with_suffix(rng, base, comma)
            }
            Role::Customer => customer(rng, None),
            Role::Division => {
                let parent = parent_name.unwrap_or("Branch");
                if parent_role == Some(Role::Customer) {
                    let short = short_of(parent);
                    if rng.gen_bool(0.5) {
                        format!("{short} {}", city(rng))
                    } else {
                        format!("{short} {}", pick(rng, DEPARTMENTS))
                    }
                } else if rng.gen_bool(0.5) {
                    format!("{} {}", pick(rng, DEPARTMENTS), city(rng))
                } else {
                    format!("{} {}", city(rng), pick(rng, UNITS))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn namer(seed: u64) -> Namer {
        Namer::new(ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn forced_shapes_have_their_awkward_character() {
        let mut n = namer(1);
        let mut name = |a| n.name(Role::Customer, None, None, Some(a));
        for _ in 0..50 {
            let c = name(Awkward::Comma);
            assert!(c.contains(", "), "{c}");
            let q = name(Awkward::Quote);
            assert!(q.contains('"'), "{q}");
            let l = name(Awkward::Newline);
            assert!(l.contains('\n'), "{l}");
            let u = name(Awkward::NonAscii);
            assert!(!u.is_ascii(), "{u}");
        }
    }

    #[test]
    fn divisions_carry_their_company_short_name() {
        let d = namer(2).name(
            Role::Division,
            Some("Northwind Logistics, Inc."),
            Some(Role::Customer),
            None,
        );
        assert!(d.starts_with("Northwind "), "{d}");
        assert_eq!(short_of("The \"Best\" Bakery"), "The \"Best\" Bakery");
    }

    #[test]
    fn providers_get_distinct_names() {
        let mut n = namer(4);
        let names: std::collections::BTreeSet<String> = (0..12)
            .map(|_| n.name(Role::Provider, None, None, None))
            .collect();
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn customer_names_are_varied_and_valid() {
        let mut n = namer(3);
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..10_000 {
            let name = n.name(Role::Customer, None, Some(Role::Reseller), None);
            usagedesk_domain::account::validate_name(&name).unwrap();
            assert_eq!(name.trim(), name, "no stray white space in {name:?}");
            distinct.insert(name);
        }
        assert!(
            distinct.len() > 9_000,
            "a customer list should rarely repeat a name: {} distinct of 10000",
            distinct.len()
        );
        for role in [Role::Provider, Role::Reseller, Role::Division] {
            for _ in 0..500 {
                let name = n.name(role, Some("Acme Foods"), Some(Role::Customer), None);
                usagedesk_domain::account::validate_name(&name).unwrap();
                assert_eq!(name.trim(), name, "no stray white space in {name:?}");
            }
        }
    }
}
