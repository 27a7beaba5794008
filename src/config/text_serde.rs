//! Values that are text in a file: read with their `FromStr`, written with their `Display`, so
//! a file and what `check-config` prints read alike.

/// Implements `Deserialize` (a string, then `FromStr`, whose error becomes serde's message, and
/// so a located diagnostic) and `Serialize` (its `Display`) for a type.
macro_rules! serde_as_text {
    ($type:ty) => {
        impl<'de> ::serde::Deserialize<'de> for $type {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                raw.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl ::serde::Serialize for $type {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
}

pub(crate) use serde_as_text;
