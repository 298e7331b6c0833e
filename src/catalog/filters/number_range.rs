//! `number_range`: at least `{id}_min` and at most `{id}_max` (both optional). For money
//! the values are amounts (`12.50`), compared in minor units of two decimals.

use super::{Condition, FilterError, FilterSpec, Filters, Op, condition, error};
use crate::catalog::kinds::decimal::is_decimal;
use crate::catalog::{Column, Filter, Kind};

pub struct NumberRange;

/// `12.5` → `1250`: an amount in cents, exactly (at most two decimals).
fn to_cents(value: &str) -> Option<String> {
    let (sign, digits) = match value.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", value.strip_prefix('+').unwrap_or(value)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if fraction.len() > 2 {
        return None;
    }
    let cents: i128 = format!("{whole}{fraction:0<2}").parse().ok()?;
    i64::try_from(cents).ok().map(|c| format!("{sign}{c}"))
}

impl FilterSpec for NumberRange {
    fn applies_to(&self, k: Kind) -> bool {
        k.is_number()
    }
    fn check(
        &self,
        _filter: &Filter,
        column: &Column,
        param: &str,
        value: &str,
    ) -> Result<Option<String>, FilterError> {
        let bad = || error(param, format!("`{value}` is not a number"));
        if !is_decimal(value) {
            return Err(bad());
        }
        match column.kind {
            Kind::Integer if value.contains('.') => Err(error(param, format!("`{value}` is not a whole number"))),
            Kind::Integer => value.parse::<i64>().map(|_| Some(value.to_owned())).map_err(|_| bad()),
            Kind::Money => to_cents(value)
                .map(Some)
                .ok_or_else(|| error(param, format!("`{value}` is not an amount with at most two decimals"))),
            _ => Ok(Some(value.to_owned())),
        }
    }
    fn conditions(&self, filter: &Filter, column: &Column, filters: &Filters) -> Vec<Condition> {
        let [min, max] = [0, 1].map(|i| filter.kind.params(&filter.id)[i].clone());
        [
            condition(column, filters, &min, Op::AtLeast),
            condition(column, filters, &max, Op::AtMost),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
    fn check_together(&self, filter: &Filter, filters: &Filters) -> Result<(), FilterError> {
        let params = filter.kind.params(&filter.id);
        if let (Some(min), Some(max)) = (filters.get(&params[0]), filters.get(&params[1]))
            && let (Ok(a), Ok(b)) = (min.parse::<f64>(), max.parse::<f64>())
            && b < a
        {
            return Err(error(&params[1], "the range ends before it starts"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_become_cents_exactly() {
        assert_eq!(super::to_cents("12.5").as_deref(), Some("1250"));
        assert_eq!(super::to_cents("-0.05").as_deref(), Some("-5"));
        assert_eq!(super::to_cents("3").as_deref(), Some("300"));
        assert_eq!(super::to_cents("1.234"), None);
    }
}
