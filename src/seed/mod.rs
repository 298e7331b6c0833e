//! Realistic, deterministic demo data that contains the cases an exporter must survive:
//! non-ASCII names, commas, quotes, newlines and CR, leading = + - @, empty strings,
//! NULLs, tag lists, amounts with cents in several currencies, two years of timestamps.

mod pools;

use crate::catalog::Cell;
use crate::store::{DynStore, NewUser, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use pools::*;

/// SplitMix64: tiny, fast, and the same sequence on every machine and version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The two years the demo data spans.
pub fn span_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}
const SPAN_SECONDS: i64 = 2 * 365 * 24 * 3600;

/// Rows come out in time order, so the id (cursor) order is the created-at order.
fn created_at(rng: &mut Rng, index: u64, count: u64) -> Cell {
    let step = SPAN_SECONDS as u64 / count.max(1);
    let offset = index * step + rng.below(step.max(1));
    Cell::Timestamp(span_start() + Duration::seconds(offset as i64))
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// NULL `null_percent` of the time, else the value `make` draws.
fn maybe(rng: &mut Rng, null_percent: u64, make: impl FnOnce(&mut Rng) -> Cell) -> Cell {
    if rng.chance(null_percent) {
        Cell::Null
    } else {
        make(rng)
    }
}

fn tags(rng: &mut Rng, pool: &[&str]) -> Cell {
    let n = rng.below(4);
    let mut chosen: Vec<String> = Vec::new();
    for _ in 0..n {
        let t = rng.pick(pool).to_string();
        if !chosen.contains(&t) {
            chosen.push(t);
        }
    }
    Cell::List(chosen)
}

fn email(first: &str, last: &str, index: u64) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    let (f, l) = (clean(first), clean(last));
    let f = if f.is_empty() { "user".to_owned() } else { f };
    format!("{f}.{l}{index}@example.com")
}

/// The statuses the demo's rows take (the demo catalog's `one_of` filters list them).
pub const CONTACT_STATUSES: &[&str] = &["lead", "active", "customer", "churned"];
pub const ORDER_STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "refunded", "cancelled"];
pub const TRANSACTION_STATUSES: &[&str] = &["pending", "succeeded", "failed", "reversed"];

/// A generator for one of the demo's tables: the columns it fills and how to make row
/// `index` of `count`. (The demo catalog, `catalog/demo.toml`, declares datasets over
/// these tables.)
pub struct Generator {
    /// The table, which is also the demo dataset's id.
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub row: fn(&mut Rng, u64, u64) -> Vec<Cell>,
}

pub static GENERATORS: &[Generator] = &[
    Generator {
        table: "contacts",
        columns: &[
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "city",
            "country",
            "notes",
            "status",
            "tags",
            "created_at",
        ],
        row: contact,
    },
    Generator {
        table: "orders",
        columns: &[
            "order_number",
            "customer_name",
            "customer_email",
            "item_count",
            "total_cents",
            "currency",
            "shipping_address",
            "note",
            "status",
            "tags",
            "created_at",
        ],
        row: order,
    },
    Generator {
        table: "transactions",
        columns: &[
            "reference",
            "kind",
            "description",
            "counterparty",
            "amount_cents",
            "currency",
            "status",
            "tags",
            "created_at",
        ],
        row: transaction,
    },
];

fn contact(rng: &mut Rng, i: u64, count: u64) -> Vec<Cell> {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let (city, country) = *rng.pick(CITIES);
    vec![
        text(first),
        text(last),
        maybe(rng, 5, |_| text(email(first, last, i))),
        maybe(rng, 20, |rng| {
            text(rng.pick(PHONES).replace('#', &format!("{:04}", rng.below(10_000))))
        }),
        maybe(rng, 15, |rng| text(*rng.pick(COMPANIES))),
        text(city),
        text(country),
        maybe(rng, 40, |rng| text(*rng.pick(NOTES))),
        text(*rng.pick(CONTACT_STATUSES)),
        tags(rng, CONTACT_TAGS),
        created_at(rng, i, count),
    ]
}

fn order(rng: &mut Rng, i: u64, count: u64) -> Vec<Cell> {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let (currency, _) = *rng.pick(CURRENCIES);
    let items = 1 + rng.below(9) as i64;
    // Minor units: cents matter (prices like 19.99), and the yen has none.
    let unit_cents = if currency == "JPY" {
        100 + rng.below(20_000) as i64
    } else {
        99 + 100 * rng.below(500) as i64
    };
    let (city, country) = *rng.pick(CITIES);
    vec![
        text(format!("ORD-{:07}", i + 1)),
        text(format!("{first} {last}")),
        maybe(rng, 5, |_| text(email(first, last, i))),
        Cell::Integer(items),
        Cell::cents(items * unit_cents),
        text(currency),
        maybe(rng, 10, |rng| {
            text(format!(
                "{} {}\n{city}\r\n{country}",
                1 + rng.below(300),
                rng.pick(STREETS)
            ))
        }),
        maybe(rng, 50, |rng| text(*rng.pick(NOTES))),
        text(*rng.pick(ORDER_STATUSES)),
        tags(rng, ORDER_TAGS),
        created_at(rng, i, count),
    ]
}

fn transaction(rng: &mut Rng, i: u64, count: u64) -> Vec<Cell> {
    let (kind, sign) = *rng.pick(TRANSACTION_KINDS);
    let (currency, _) = *rng.pick(CURRENCIES);
    let cents = sign * (1 + rng.below(250_000) as i64);
    vec![
        text(format!("TX-{:08X}", rng.next_u64() as u32)),
        text(kind),
        maybe(rng, 10, |rng| text(*rng.pick(DESCRIPTIONS))),
        maybe(rng, 10, |rng| text(*rng.pick(COMPANIES))),
        Cell::cents(cents),
        text(currency),
        text(*rng.pick(TRANSACTION_STATUSES)),
        tags(rng, TRANSACTION_TAGS),
        created_at(rng, i, count),
    ]
}

/// Rows are generated and loaded in batches of this many, so memory stays flat.
const BATCH: usize = 10_000;

impl Generator {
    /// The `count` rows this generator makes for `seed`, lazily.
    pub fn rows(&self, count: u64, seed: u64) -> impl Iterator<Item = Vec<Cell>> + '_ {
        let mut rng = Rng::new(seed ^ (self.table.len() as u64).wrapping_mul(0x1234_5678_9ABC));
        (0..count).map(move |i| (self.row)(&mut rng, i, count))
    }
}

/// Adds `count` rows of `generator`'s dataset to a workspace. The data depends only on
/// `seed`, `count` and the generator.
pub async fn seed_dataset(
    store: &DynStore,
    generator: &Generator,
    workspace_id: i64,
    count: u64,
    seed: u64,
) -> Result<(), StoreError> {
    let mut rows = generator.rows(count, seed);
    loop {
        let batch: Vec<Vec<Cell>> = rows.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(());
        }
        store
            .insert_rows(generator.table, workspace_id, generator.columns, &batch)
            .await?;
    }
}

/// A demo login, printed at start-up.
pub struct DemoLogin {
    pub email: &'static str,
    pub password: &'static str,
    pub workspaces: &'static str,
}

pub const DEMO_PASSWORD: &str = "egress-demo-2024";

pub const DEMO_LOGINS: &[DemoLogin] = &[
    DemoLogin {
        email: "ada@acme.example",
        password: DEMO_PASSWORD,
        workspaces: "Acme Corp, Globex",
    },
    DemoLogin {
        email: "grace@globex.example",
        password: DEMO_PASSWORD,
        workspaces: "Globex",
    },
];

/// Two workspaces with a demo owner each (Ada also belongs to Globex, to show switching),
/// a few dozen members, and `rows` contacts, orders and transactions in each workspace.
pub async fn seed_demo(store: &DynStore, rows: u64, hash: impl Fn(&str) -> String) -> anyhow::Result<()> {
    let password_hash = hash(DEMO_PASSWORD);
    let owner = |email: &str, name: &str| NewUser {
        email: email.to_owned(),
        name: name.to_owned(),
        password_hash: password_hash.clone(),
    };
    let (ada, acme) = store
        .create_account("Acme Corp", &owner("ada@acme.example", "Ada Lovelace"))
        .await?;
    let (_, globex) = store
        .create_account("Globex", &owner("grace@globex.example", "Grace Hopper"))
        .await?;
    store.add_membership(globex, ada, "member").await?;
    // Tenant keys, so a sign-in link from a host product can name them (`tenant.id`).
    store.set_tenant_key(acme, "acme").await?;
    store.set_tenant_key(globex, "globex").await?;

    // Members who cannot log in: their hash is of a random password nobody knows.
    let locked_hash = hash(&format!("{:x}{:x}", Rng::new(rows).next_u64(), std::process::id()));
    let mut rng = Rng::new(7);
    for (workspace, domain) in [(acme, "acme.example"), (globex, "globex.example")] {
        for i in 0..24u64 {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let user = NewUser {
                email: format!("member{i}@{domain}"),
                name: format!("{first} {last}"),
                password_hash: locked_hash.clone(),
            };
            let id = store.create_user(&user).await?;
            store
                .add_membership(workspace, id, if i % 6 == 0 { "admin" } else { "member" })
                .await?;
        }
    }
    for (seed, workspace) in [(1, acme), (2, globex)] {
        for generator in GENERATORS {
            seed_dataset(store, generator, workspace, rows, seed).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_match_their_columns_and_are_deterministic() {
        for g in GENERATORS {
            let a = (g.row)(&mut Rng::new(1), 3, 100);
            let b = (g.row)(&mut Rng::new(1), 3, 100);
            assert_eq!(a, b);
            assert_eq!(a.len(), g.columns.len(), "{}", g.table);
            // The demo catalog declares every column the seed fills.
            let catalog = crate::catalog::Catalog::load(None).unwrap();
            let dataset = catalog.find(g.table).unwrap();
            for name in g.columns {
                assert!(dataset.column(name).is_some(), "{name} in {}", g.table);
            }
        }
    }

    #[test]
    fn the_hard_cases_occur() {
        let rows: Vec<String> = (0..5000)
            .flat_map(|i| GENERATORS.iter().flat_map(move |g| (g.row)(&mut Rng::new(i), i, 5000)))
            .map(|c| c.display())
            .collect();
        for needle in [",", "\"", "\n", "\r", "=", "+", "-", "@", "é", "李"] {
            assert!(rows.iter().any(|s| s.contains(needle)), "no value contains {needle:?}");
        }
        assert!(rows.iter().any(|s| s.is_empty()));
    }

    #[test]
    fn timestamps_increase_with_the_row_index() {
        let g = &GENERATORS[0];
        let mut rng = Rng::new(9);
        let times: Vec<Cell> = (0..1000).map(|i| (g.row)(&mut rng, i, 1000).pop().unwrap()).collect();
        assert!(times.windows(2).all(|w| match (&w[0], &w[1]) {
            (Cell::Timestamp(a), Cell::Timestamp(b)) => a <= b,
            _ => false,
        }));
    }
}
