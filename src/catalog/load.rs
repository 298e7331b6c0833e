//! Reading a catalog file and checking it on its own (`egress catalog check` also checks
//! it against the live source). Every problem is reported, each naming its dataset and
//! field, with what to write instead.

use super::filters::{FilterKind, spec as filter_spec};
use super::{Catalog, Kind};
use std::fmt;

#[derive(Debug)]
pub struct CatalogError {
    /// Where the catalog came from (a path, or "the demo catalog").
    pub origin: String,
    pub problems: Vec<String>,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} has {} problem", self.origin, self.problems.len())?;
        if self.problems.len() != 1 {
            write!(f, "s")?;
        }
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogError {}

/// A name that can go into SQL as a quoted identifier: lower-case letters, digits and
/// underscores, not starting with a digit (what Postgres folds unquoted names to).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// `schema.table` or `table`, each part an identifier.
pub fn is_source(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    (1..=2).contains(&parts.len()) && parts.iter().all(|p| is_identifier(p))
}

/// An id for URLs and the API: lower-case letters, digits, `_` and `-`.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Catalog {
    /// Parses and checks a catalog; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalog, CatalogError> {
        let fail = |problems| CatalogError {
            origin: origin.to_owned(),
            problems,
        };
        let catalog: Catalog = toml::from_str(text).map_err(|e| fail(vec![e.to_string().trim().to_owned()]))?;
        let problems = catalog.problems();
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(fail(problems))
        }
    }

    /// Reads the file at `path`, or the demo catalog without one.
    pub fn load(path: Option<&std::path::Path>) -> Result<Catalog, CatalogError> {
        match path {
            None => Catalog::from_toml(super::DEMO, "the demo catalog"),
            Some(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| CatalogError {
                    origin: origin.clone(),
                    problems: vec![format!("cannot be read: {e}")],
                })?;
                Catalog::from_toml(&text, &origin)
            }
        }
    }

    /// What is wrong with the declarations themselves.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.datasets.is_empty() {
            problems.push("no datasets: declare at least one [[dataset]]".to_owned());
        }
        for (i, d) in self.datasets.iter().enumerate() {
            let at = if is_id(&d.id) {
                format!("dataset `{}`", d.id)
            } else {
                problems.push(format!(
                    "dataset #{}: id `{}` must be lower-case letters, digits, `_` or `-`",
                    i + 1,
                    d.id
                ));
                format!("dataset #{}", i + 1)
            };
            let mut say = |what: String| problems.push(format!("{at}: {what}"));
            // Said once, at the second use: ids name datasets in URLs and the API.
            if let Some(first) = self.datasets[..i].iter().position(|o| o.id == d.id) {
                say(format!(
                    "dataset #{} has this id too; give each dataset its own id",
                    first + 1
                ));
            }
            if d.label.trim().is_empty() {
                say("label: give it a name people read".into());
            }
            if !is_source(&d.source) {
                say(format!(
                    "source `{}`: write a table or view as `name` or `schema.name` (lower-case letters, digits, `_`)",
                    d.source
                ));
            }
            if !is_identifier(&d.tenant.column) {
                say(format!(
                    "tenant.column `{}`: name the column that holds each row's tenant",
                    d.tenant.column
                ));
            }
            if d.columns.is_empty() {
                say("no columns: declare at least one [[dataset.column]]".into());
            }
            for c in &d.columns {
                if !is_identifier(&c.name) {
                    say(format!(
                        "column `{}`: a column name is lower-case letters, digits and `_`",
                        c.name
                    ));
                }
                if d.columns.iter().filter(|o| o.name == c.name).count() > 1 {
                    say(format!("column `{}` is declared twice", c.name));
                }
                if c.label.trim().is_empty() {
                    say(format!("column `{}`: label is empty", c.name));
                }
                match (&c.currency_column, c.kind) {
                    (Some(_), k) if k != Kind::Money => say(format!(
                        "column `{}`: currency_column is for money columns only",
                        c.name
                    )),
                    (Some(cur), _) if d.column(cur).is_none_or(|col| col.kind != Kind::Text) => say(format!(
                        "column `{}`: currency_column `{cur}` must be a declared text column",
                        c.name
                    )),
                    _ => {}
                }
            }
            if d.key.is_empty() {
                say("key: list the columns that order the rows uniquely, e.g. key = [\"id\"]".into());
            }
            for k in &d.key {
                match d.column(k) {
                    None => say(format!("key column `{k}` must be a declared column")),
                    Some(c) if !c.kind.is_ordered() => {
                        say(format!("key column `{k}` is {}, which has no order", c.kind.id()))
                    }
                    _ => {}
                }
            }
            if let Some(subject) = &d.subject {
                match d.column(subject) {
                    None => say(format!("subject `{subject}` must be a declared column")),
                    Some(c) if c.kind != Kind::Text => say(format!(
                        "subject `{subject}` is {}; it must be a text column holding the person's email",
                        c.kind.id()
                    )),
                    Some(_) => {}
                }
            }
            if let Some(changes) = &d.changes {
                match d.column(&changes.column) {
                    None => say(format!("changes.column `{}` must be a declared column", changes.column)),
                    Some(c) if c.kind != Kind::Timestamp => say(format!(
                        "changes.column `{}` is {}; it must be a timestamp set whenever a row is written",
                        c.name,
                        c.kind.id()
                    )),
                    _ => {}
                }
                if !(1..=86_400).contains(&changes.overlap_seconds) {
                    say("changes.overlap_seconds: between 1 and 86400 (a day)".into());
                }
                if let Some(t) = &changes.tombstones {
                    if !is_source(&t.source) {
                        say(format!(
                            "changes.tombstones.source `{}`: write a table or view as `name` or `schema.name`",
                            t.source
                        ));
                    }
                    if !is_identifier(&t.deleted_at) {
                        say(format!(
                            "changes.tombstones.deleted_at `{}`: name its timestamp column",
                            t.deleted_at
                        ));
                    }
                }
            }
            for f in &d.filters {
                if !is_id(&f.id) {
                    say(format!(
                        "filter `{}`: an id is lower-case letters, digits, `_` or `-`",
                        f.id
                    ));
                }
                if d.filters.iter().filter(|o| o.id == f.id).count() > 1 {
                    say(format!("filter `{}` is declared twice", f.id));
                }
                match d.column(&f.column) {
                    None => say(format!("filter `{}`: column `{}` is not declared", f.id, f.column)),
                    Some(c) if !filter_spec(f.kind).applies_to(c.kind) => say(format!(
                        "filter `{}`: a {:?} filter does not apply to the {} column `{}`",
                        f.id,
                        f.kind,
                        c.kind.id(),
                        c.name
                    )),
                    _ => {}
                }
                if f.kind == FilterKind::OneOf && f.values.is_empty() && !f.values_from_data {
                    say(format!(
                        "filter `{}`: list its values, or set values_from_data = true",
                        f.id
                    ));
                }
            }
            let params: Vec<String> = d.filter_params();
            for p in &params {
                if params.iter().filter(|o| *o == p).count() > 1 {
                    say(format!("filter parameter `{p}` belongs to two filters"));
                }
            }
        }
        problems.dedup();
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_is_sound() {
        let catalog = Catalog::load(None).unwrap();
        let ids: Vec<&str> = catalog.datasets.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["contacts", "orders", "transactions", "members"]);
    }

    /// The README's worked example declares what it says.
    #[test]
    fn the_example_catalog_is_sound() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/example-saas.toml");
        let catalog = Catalog::load(Some(&path)).unwrap();
        let ids: Vec<&str> = catalog.datasets.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["customers", "invoices", "overdue"]);
    }

    #[test]
    fn every_problem_is_named() {
        let text = r#"
            [[dataset]]
            id = "Bad Id"
            label = ""
            source = "public.contacts; drop table x"
            tenant = { column = "workspace_id" }
            key = ["created", "tags"]
            [[dataset.column]]
            name = "tags"
            label = "Tags"
            kind = "text_list"
            [[dataset.filter]]
            id = "status"
            label = "Status"
            column = "status"
            kind = "one_of"
        "#;
        let e = Catalog::from_toml(text, "test.toml").unwrap_err().to_string();
        for part in [
            "id `Bad Id` must be lower-case",
            "label: give it a name",
            "source `public.contacts; drop table x`",
            "key column `created` must be a declared column",
            "key column `tags` is text_list, which has no order",
            "filter `status`: column `status` is not declared",
            "filter `status`: list its values",
        ] {
            assert!(e.contains(part), "{part} missing from:\n{e}");
        }
        let e = Catalog::from_toml("[[dataset]]\nid = 3", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml has 1 problem"), "{e}");
    }
}
