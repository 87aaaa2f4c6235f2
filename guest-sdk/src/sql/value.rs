//! What goes into a statement: [`Value`], the [`ToValue`] conversions, and
//! the [`Params`] a call takes (tuples, arrays, slices, `()`, [`params!`](crate::params)).

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// One parameter or one column value: the values of `wasmroutes:sql`.
///
/// SQLite has no boolean type: a [`Value::Boolean`] parameter is stored as
/// the integer 1 or 0, and SQLite results never hold one (a `bool` field
/// reads 0 and 1; see [`Db::query`](super::Db::query)). JSON travels as text.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A boolean (a parameter, or a column of a database that has the type).
    Boolean(bool),
}

impl Value {
    /// What kind of value this is, for messages: `null`, `integer`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
            Value::Boolean(_) => "boolean",
        }
    }

    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is a real (or an integer, converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The bytes, if this is a blob.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// The boolean, if this is one or the integer 0 or 1 (SQLite's
    /// booleans).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            Value::Integer(0) => Some(false),
            Value::Integer(1) => Some(true),
            _ => None,
        }
    }
}

/// A Rust value that can be a statement parameter.
///
/// Implemented for the integers that fit an `i64` (`i8` to `i64`, `u8` to
/// `u32`), `f32`/`f64`, `bool`, text (`str`, `String`, `Cow<str>`, `char`),
/// bytes (`[u8]`, `Vec<u8>`, `[u8; N]`), [`Value`], `serde_json::Value`
/// (sent as JSON text), `Option<T>` (`None` is `NULL`) and references and
/// smart pointers to any of them. `u64` and `usize` are left out on purpose:
/// they do not all fit; convert with `i64::try_from` and decide what an
/// overflow means.
pub trait ToValue {
    /// The parameter.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! integer_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Integer(i64::from(*self))
            }
        }
    )*};
}

integer_to_value!(i8, i16, i32, i64, u8, u16, u32);

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for f32 {
    fn to_value(&self) -> Value {
        Value::Real(f64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Boolean(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::Text(self.as_ref().to_owned())
    }
}

impl ToValue for char {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for serde_json::Value {
    /// JSON text (`null` too: use `Option<serde_json::Value>` for SQL `NULL`).
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for &mut T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for Rc<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for Arc<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// The parameters of one statement, bound in order to `$1`, `$2`…
///
/// - `()`: none.
/// - a tuple of up to 16 [`ToValue`]s: `(id, &title)`.
/// - an array, slice or `Vec` of one [`ToValue`] type: `[1, 2, 3]`,
///   `&ids[..]`, `Vec<Value>`.
/// - [`params!`](crate::params)`[a, b, c]`: any mix of types (an array of [`Value`]s).
pub trait Params {
    /// The values, in order.
    fn into_values(self) -> Vec<Value>;
}

impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue, const N: usize> Params for &[T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for &[T] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for &Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

macro_rules! tuple_params {
    ($($name:ident)+) => {
        impl<$($name: ToValue),+> Params for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_values(self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.to_value()),+]
            }
        }
    };
}

tuple_params!(A);
tuple_params!(A B);
tuple_params!(A B C);
tuple_params!(A B C D);
tuple_params!(A B C D E);
tuple_params!(A B C D E F);
tuple_params!(A B C D E F G);
tuple_params!(A B C D E F G H);
tuple_params!(A B C D E F G H I);
tuple_params!(A B C D E F G H I J);
tuple_params!(A B C D E F G H I J K);
tuple_params!(A B C D E F G H I J K L);
tuple_params!(A B C D E F G H I J K L M);
tuple_params!(A B C D E F G H I J K L M N);
tuple_params!(A B C D E F G H I J K L M N O);
tuple_params!(A B C D E F G H I J K L M N O P);

/// The parameters of a statement, of any mix of [`ToValue`] types, bound in
/// order to `$1`, `$2`…: `params![id, &title, None::<String>]`. Each
/// argument is borrowed, not moved.
///
/// ```
/// use wasmroutes_sdk::params;
/// use wasmroutes_sdk::sql::{Params, Value};
///
/// let title = String::from("Groceries");
/// let values = params![7, &title, None::<i64>, true].into_values();
/// assert_eq!(values, [Value::Integer(7), Value::Text(title), Value::Null, Value::Boolean(true)]);
/// assert!(params![].into_values().is_empty());
/// ```
#[macro_export]
macro_rules! params {
    () => {{
        let none: [$crate::sql::Value; 0] = [];
        none
    }};
    ($($param:expr),+ $(,)?) => {
        [$($crate::sql::ToValue::to_value(&$param)),+]
    };
}
