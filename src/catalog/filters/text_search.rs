//! `text_search`: the text starts with (`mode = "prefix"`, the default) or contains the
//! value, ignoring case. `%`, `_` and `\` in the value are matched as themselves.

use super::{Condition, FilterError, FilterSpec, Filters, Op, SearchMode};
use crate::catalog::{Column, Filter, Kind};

pub struct TextSearch;

/// The value as a LIKE pattern that matches it literally.
pub fn escape_like(value: &str) -> String {
    value
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

impl FilterSpec for TextSearch {
    fn applies_to(&self, k: Kind) -> bool {
        k == Kind::Text
    }
    fn check(
        &self,
        _filter: &Filter,
        _column: &Column,
        _param: &str,
        value: &str,
    ) -> Result<Option<String>, FilterError> {
        Ok(Some(value.to_owned()))
    }
    fn conditions(&self, filter: &Filter, column: &Column, filters: &Filters) -> Vec<Condition> {
        filters
            .get(&filter.id)
            .map(|value| {
                let escaped = escape_like(value);
                let pattern = match filter.mode {
                    SearchMode::Prefix => format!("{escaped}%"),
                    SearchMode::Contains => format!("%{escaped}%"),
                };
                Condition {
                    column: column.name.clone(),
                    kind: column.kind,
                    op: Op::Like,
                    value: pattern,
                }
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_in_the_value_are_literal() {
        assert_eq!(super::escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
