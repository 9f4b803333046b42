//! The template context of one recipient: every column by its header name, `email`,
//! and `fields` (the same columns as a map, for headers that are awkward as names).
//!
//! The context is a lazy minijinja object over the recipient's own values, so building
//! it costs one clone of the row instead of a map per row.

use minijinja::value::{Enumerator, Object, Value};
use std::sync::Arc;

use crate::recipients::{Recipient, RecipientList};

/// Names the context always provides, whatever the columns are called.
pub(crate) const BUILTINS: &[&str] = &["email", "fields"];

#[derive(Debug)]
pub(crate) struct RowContext {
    names: Arc<[String]>,
    recipient: Recipient,
}

/// The same row seen as a plain map (`fields["氏名"]`).
#[derive(Debug)]
struct FieldMap(Arc<RowContext>);

impl RowContext {
    pub(crate) fn value(list_fields: Arc<[String]>, recipient: &Recipient) -> Value {
        Value::from_object(RowContext {
            names: list_fields,
            recipient: recipient.clone(),
        })
    }

    fn field(&self, name: &str) -> Option<Value> {
        let i = self.names.iter().position(|n| n == name)?;
        // A short row (should not happen after import) reads as an empty cell, not
        // as a missing field: the column exists.
        Some(Value::from(self.recipient.value(i).unwrap_or("")))
    }
}

impl Object for RowContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match key {
            // The address actually used for To and the envelope wins over a column
            // that happens to be called "email".
            "email" => Some(Value::from(self.recipient.email())),
            "fields" => Some(Value::from_object(FieldMap(self.clone()))),
            _ => self.field(key),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.names.iter().map(|n| Value::from(n.as_str())).collect();
        keys.extend(BUILTINS.iter().map(|b| Value::from(*b)));
        Enumerator::Values(keys)
    }
}

impl Object for FieldMap {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.field(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .names
                .iter()
                .map(|n| Value::from(n.as_str()))
                .collect(),
        )
    }
}

/// Shared header names of a list, so each row's context does not copy them.
pub(crate) fn shared_names(list: &RecipientList) -> Arc<[String]> {
    list.fields.clone().into()
}
