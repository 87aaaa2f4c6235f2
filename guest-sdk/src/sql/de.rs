//! Rows into Rust types with serde, straight from the [`Value`]s: a row is
//! a map of column names to values (for structs and maps) or a sequence of
//! values (for tuples); a one-column row is also its value (`i64`,
//! `String`, …). Each value keeps its type:
//!
//! - integers into any integer type that holds them, and into floats;
//! - `bool` from a boolean or from SQLite's integers 0 and 1;
//! - `NULL` into `Option::None` (or `()`);
//! - text into strings, `char`s and unit enum variants by name; into a
//!   struct, map or sequence, text is read as JSON (a JSON column);
//! - blobs into `Vec<u8>` and `serde_bytes` types.
//!
//! Errors name the column and say what it held.

use std::fmt;

use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

use super::{SqlError, Value};

/// Why a row or a value did not fit, and in which column.
#[derive(Debug)]
pub(crate) struct DeError {
    column: Option<String>,
    message: String,
}

impl DeError {
    /// Attaches the column the error happened in (the innermost one wins).
    fn in_column(mut self, column: &str) -> DeError {
        self.column.get_or_insert_with(|| column.to_owned());
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "column `{column}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { column: None, message: msg.to_string() }
    }
}

/// Row `values` (named by `columns`) as a `T`.
pub(crate) fn from_row<T: DeserializeOwned>(columns: &[String], values: Vec<Value>) -> Result<T, SqlError> {
    T::deserialize(RowDeserializer { columns, values }).map_err(|e| {
        let context = match e.column {
            Some(_) => format!("a row read as {}", std::any::type_name::<T>()),
            None => format!("a row with columns ({}) read as {}", columns.join(", "), std::any::type_name::<T>()),
        };
        SqlError::Decode(format!("{context}: {e}"))
    })
}

/// One value of column `column` as a `T`.
pub(crate) fn from_value<T: DeserializeOwned>(column: &str, value: Value) -> Result<T, SqlError> {
    T::deserialize(ValueDeserializer(value))
        .map_err(|e| SqlError::Decode(format!("{} read as {}", e.in_column(column), std::any::type_name::<T>())))
}

/// A whole row.
struct RowDeserializer<'a> {
    columns: &'a [String],
    values: Vec<Value>,
}

impl<'a> RowDeserializer<'a> {
    /// The one value of a one-column row, for a `T` that is a single value.
    fn single(self, wanted: &str) -> Result<(&'a str, ValueDeserializer), DeError> {
        if let ([column], 1) = (self.columns, self.values.len()) {
            let value = self.values.into_iter().next().unwrap_or(Value::Null);
            return Ok((column, ValueDeserializer(value)));
        }
        Err(de::Error::custom(format!(
            "a row of {} columns cannot be read as {wanted}; read it as a struct or a tuple",
            self.values.len()
        )))
    }

    fn entries(self) -> RowEntries<'a> {
        RowEntries { entries: self.columns.iter().zip(self.values), pending: None }
    }
}

/// Forwards scalar requests of a row to its single column.
macro_rules! single_column {
    ($($method:ident => $wanted:literal),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let (column, value) = self.single($wanted)?;
            value.$method(visitor).map_err(|e| e.in_column(column))
        }
    )*};
}

impl<'de> Deserializer<'de> for RowDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self.entries())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mut entries = self.entries();
        let value = visitor.visit_seq(&mut entries)?;
        entries.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        if len != self.values.len() {
            return Err(de::Error::custom(format!(
                "the row has {} columns, the tuple {len} fields",
                self.values.len()
            )));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.values.len() == 1 {
            let (column, value) = self.single("an option")?;
            return value.deserialize_option(visitor).map_err(|e| e.in_column(column));
        }
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (column, value) = self.single("an enum")?;
        value.deserialize_enum(name, variants, visitor).map_err(|e| e.in_column(column))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    single_column! {
        deserialize_bool => "a bool",
        deserialize_i8 => "an integer",
        deserialize_i16 => "an integer",
        deserialize_i32 => "an integer",
        deserialize_i64 => "an integer",
        deserialize_i128 => "an integer",
        deserialize_u8 => "an integer",
        deserialize_u16 => "an integer",
        deserialize_u32 => "an integer",
        deserialize_u64 => "an integer",
        deserialize_u128 => "an integer",
        deserialize_f32 => "a float",
        deserialize_f64 => "a float",
        deserialize_char => "a char",
        deserialize_str => "a string",
        deserialize_string => "a string",
        deserialize_bytes => "bytes",
        deserialize_byte_buf => "bytes",
        deserialize_unit => "()",
        deserialize_identifier => "an identifier",
    }
}

/// A row's columns and values, as a map (name → value) or a sequence.
struct RowEntries<'a> {
    /// Column names are borrowed from the result: a row costs no copies of
    /// them.
    entries: std::iter::Zip<std::slice::Iter<'a, String>, std::vec::IntoIter<Value>>,
    /// The value whose key `next_key_seed` just gave, and its column.
    pending: Option<(&'a str, Value)>,
}

impl RowEntries<'_> {
    fn end(&mut self) -> Result<(), DeError> {
        match self.entries.len() {
            0 => Ok(()),
            more => Err(de::Error::custom(format!("{more} more column(s) than the type has fields"))),
        }
    }
}

impl<'de> MapAccess<'de> for RowEntries<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((column, value)) = self.entries.next() else { return Ok(None) };
        let key = seed.deserialize(StrDeserializer::<DeError>::new(column))?;
        self.pending = Some((column, value));
        Ok(Some(key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let (column, value) = self
            .pending
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("a value was asked for before its key"))?;
        seed.deserialize(ValueDeserializer(value)).map_err(|e| e.in_column(column))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

impl<'de> SeqAccess<'de> for RowEntries<'_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        let Some((column, value)) = self.entries.next() else { return Ok(None) };
        seed.deserialize(ValueDeserializer(value)).map(Some).map_err(|e| e.in_column(column))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// One column value.
struct ValueDeserializer(Value);

impl ValueDeserializer {
    fn unexpected(&self) -> Unexpected<'_> {
        match &self.0 {
            Value::Null => Unexpected::Other("NULL"),
            Value::Integer(i) => Unexpected::Signed(*i),
            Value::Real(r) => Unexpected::Float(*r),
            Value::Text(t) => Unexpected::Str(t),
            Value::Blob(b) => Unexpected::Bytes(b),
            Value::Boolean(b) => Unexpected::Bool(*b),
        }
    }

    fn invalid<'de, V: Visitor<'de>>(&self, visitor: &V) -> DeError {
        de::Error::invalid_type(self.unexpected(), visitor)
    }

    /// Text read as JSON, for a struct, map or sequence in a text column.
    fn json<'de, V: Visitor<'de>>(
        text: String,
        visitor: V,
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::IoRead<std::io::Cursor<Vec<u8>>>>,
            V,
        ) -> Result<V::Value, serde_json::Error>,
    ) -> Result<V::Value, DeError> {
        let mut json = serde_json::Deserializer::from_reader(std::io::Cursor::new(text.into_bytes()));
        let value = read(&mut json, visitor).and_then(|v| json.end().map(|()| v));
        value.map_err(|e| de::Error::custom(format!("the text is not that JSON: {e}")))
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDeserializer {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Real(r) => visitor.visit_f64(r),
            Value::Text(t) => visitor.visit_string(t),
            // A sequence of bytes: `Vec<u8>`, `serde_bytes` and JSON values
            // (an array) all take it.
            Value::Blob(b) => SeqDeserializer::<_, DeError>::new(b.into_iter()).deserialize_any(visitor),
            Value::Boolean(b) => visitor.visit_bool(b),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Boolean(b) => visitor.visit_bool(b),
            // SQLite has no booleans: it stores them as 0 and 1.
            Value::Integer(0) => visitor.visit_bool(false),
            Value::Integer(1) => visitor.visit_bool(true),
            Value::Integer(i) => Err(de::Error::invalid_value(Unexpected::Signed(i), &"a boolean (0 or 1)")),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(t) => visitor.visit_string(t),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Blob(b) => visitor.visit_byte_buf(b),
            Value::Text(t) => visitor.visit_byte_buf(t.into_bytes()),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Blob(b) => SeqDeserializer::<_, DeError>::new(b.into_iter()).deserialize_seq(visitor),
            Value::Text(t) => Self::json(t, visitor, |json, v| json.deserialize_seq(v)),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(t) => Self::json(t, visitor, |json, v| json.deserialize_tuple(len, v)),
            _ => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(t) => Self::json(t, visitor, |json, v| json.deserialize_map(v)),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(t) => Self::json(t, visitor, |json, v| json.deserialize_struct(name, fields, v)),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            // A unit variant by its name: an enum kept as text.
            Value::Text(t) => visitor.visit_enum(IntoDeserializer::<DeError>::into_deserializer(t)),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_any! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_identifier
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Any value a row can hold: a column read as [`Value`] is that value
    /// (booleans stay integers on SQLite). From other formats, a sequence
    /// of bytes is a blob.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SQL value (null, integer, real, text, blob or boolean)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Integer).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Real(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Blob(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Blob(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(Value::Blob(bytes))
    }
}
