//! The words the demo data is made of. The odd ones are on purpose.

pub const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Zoë",
    "Søren",
    "José",
    "Łukasz",
    "Anaïs",
    "Björn",
    "Chloé",
    "Dvořák",
    "Émile",
    "Fatima",
    "Giulia",
    "Hiroshi",
    "Ingrid",
    "Jürgen",
    "Kateřina",
    "Lars",
    "María",
    "Noor",
    "Olu",
    "Priya",
    "Quentin",
    "Rafał",
    "Siobhán",
    "Tomás",
    "Uma",
    "Vera",
    "Wei",
    "Xiadani",
    "Yusuf",
    "Zainab",
    "李雷",
    "Ægir",
    "Mary-Jane",
    "D'Arcy",
    "Nguyễn",
    "Đorđe",
    "Ольга",
];

pub const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "O'Brien",
    "Müller",
    "García",
    "Nowak",
    "Dubois",
    "Andersson",
    "Rossi",
    "Tanaka",
    "Ødegaard",
    "Smith, Jr.",
    "van der Berg",
    "Kowalczyk",
    "Ivanova",
    "Papadopoulos",
    "Núñez",
    "Şahin",
    "Chen",
    "Kim",
    "Okafor",
    "Haddad",
    "Schröder",
    "da Silva",
    "\"The Rock\" Johnson",
    "韩梅梅",
    "Wójcik",
    "Østergaard",
    "Horváth",
];

pub const COMPANIES: &[&str] = &[
    "Acme, Inc.",
    "Globex Corporation",
    "Initech",
    "Umbrella \"Bio\" Labs",
    "Stark Industries",
    "Wayne Enterprises",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+Plus Consulting",
    "-Minus Design Studio",
    "@handle Media",
    "Société Générale d'Export",
    "Müller & Söhne GmbH",
    "株式会社サンプル",
    "",
    "Tab\tSeparated Ltd",
];

pub const CITIES: &[(&str, &str)] = &[
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("London", "GB"),
    ("New York", "US"),
    ("São Paulo", "BR"),
    ("Zürich", "CH"),
    ("Kraków", "PL"),
    ("Tokyo", "JP"),
    ("Reykjavík", "IS"),
    ("Montréal", "CA"),
    ("Lagos", "NG"),
    ("Mumbai", "IN"),
];

pub const PHONES: &[&str] = &[
    "+1 555 01##",
    "+44 20 7946 ##",
    "+49 30 1234##",
    "030 ####",
    "(555) 01-##",
];

pub const NOTES: &[&str] = &[
    "Prefers email",
    "Met at the conference, follow up in Q3",
    "Line one\nLine two",
    "Windows line\r\nbreak",
    "Carriage\rreturn only",
    "Said: \"call me back\", then hung up",
    "=1+2",
    "+33 is the country code",
    "-5% discount agreed",
    "@mention the account owner",
    "\tstarts with a tab",
    "",
    "Ünïcödé ✓ and emoji 🎉",
    "a,b,c",
];

pub const STREETS: &[&str] = &[
    "Main Street",
    "Rue de la Paix",
    "Hauptstraße",
    "Calle Mayor",
    "Baker St., Flat 2",
];

pub const CURRENCIES: &[(&str, &str)] = &[
    ("USD", "$"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("JPY", "¥"),
    ("CHF", "Fr"),
    ("USD", "$"),
    ("EUR", "€"),
];

pub const TRANSACTION_KINDS: &[(&str, i64)] = &[
    ("charge", 1),
    ("charge", 1),
    ("charge", 1),
    ("refund", -1),
    ("payout", -1),
    ("fee", -1),
];

pub const DESCRIPTIONS: &[&str] = &[
    "Subscription, monthly",
    "Invoice #1042",
    "-Refund for order",
    "=SUM(A1:A9)",
    "@payments adjustment",
    "Card payment \"online\"",
    "Wire transfer\nref 88",
    "",
];

pub const CONTACT_TAGS: &[&str] = &["vip", "newsletter", "partner", "lead-2024", "trial", "enterprise"];
pub const ORDER_TAGS: &[&str] = &["gift", "priority", "wholesale", "repeat", "promo"];
pub const TRANSACTION_TAGS: &[&str] = &["recurring", "manual", "disputed", "reconciled"];
