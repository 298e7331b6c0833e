//! `text_equals`: the column equals the value exactly.

use super::{Condition, FilterError, FilterSpec, Filters, Op, condition, error};
use crate::catalog::kinds::spec as kind;
use crate::catalog::{Column, Filter, Kind};

pub struct TextEquals;

impl FilterSpec for TextEquals {
    fn applies_to(&self, k: Kind) -> bool {
        matches!(k, Kind::Text | Kind::Uuid | Kind::Integer)
    }
    fn check(
        &self,
        _filter: &Filter,
        column: &Column,
        param: &str,
        value: &str,
    ) -> Result<Option<String>, FilterError> {
        if !kind(column.kind).valid_param(value) {
            return Err(error(param, format!("`{value}` is not a {}", column.kind.id())));
        }
        Ok(Some(value.to_owned()))
    }
    fn conditions(&self, filter: &Filter, column: &Column, filters: &Filters) -> Vec<Condition> {
        condition(column, filters, &filter.id, Op::Eq).into_iter().collect()
    }
}
