//! `list_contains`: a list column (tags) holds the value.

use super::{Condition, FilterError, FilterSpec, Filters, Op, condition};
use crate::catalog::{Column, Filter, Kind};

pub struct ListContains;

impl FilterSpec for ListContains {
    fn applies_to(&self, k: Kind) -> bool {
        k == Kind::TextList
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
        condition(column, filters, &filter.id, Op::Contains)
            .into_iter()
            .collect()
    }
}
