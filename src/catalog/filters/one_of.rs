//! `one_of`: the column equals one of the declared `values` (or, with
//! `values_from_data`, any value; the pages offer the ones in the data).

use super::{Condition, FilterError, FilterSpec, Filters, Op, condition, error};
use crate::catalog::kinds::spec as kind;
use crate::catalog::{Column, Filter, Kind};

pub struct OneOf;

impl FilterSpec for OneOf {
    fn applies_to(&self, k: Kind) -> bool {
        !matches!(k, Kind::Json | Kind::TextList)
    }
    fn check(&self, filter: &Filter, column: &Column, param: &str, value: &str) -> Result<Option<String>, FilterError> {
        if !filter.values.is_empty() && !filter.values.iter().any(|v| v == value) {
            return Err(error(
                param,
                format!("`{value}` is not one of: {}", filter.values.join(", ")),
            ));
        }
        if !kind(column.kind).valid_param(value) {
            return Err(error(param, format!("`{value}` is not a {}", column.kind.id())));
        }
        Ok(Some(value.to_owned()))
    }
    fn conditions(&self, filter: &Filter, column: &Column, filters: &Filters) -> Vec<Condition> {
        condition(column, filters, &filter.id, Op::Eq).into_iter().collect()
    }
}
