//! Closed sets of label values: [`label_enum!`] defines an enum whose variants are the values of
//! one label, with everything a label needs, so that no layer hand-writes the same impls.

/// Defines a `Copy` enum of label values, each variant mapped to its snake_case text, with:
///
/// - `ALL`: every variant in declaration order, for pre-creating series at zero;
/// - `as_str()`: the variant's text;
/// - `from_value(text)`: the variant whose text is exactly `text`, if any;
/// - `Display` writing the text, and `EncodeLabelValue` writing it as the label value
///   (prometheus-client's derive would write the variant name verbatim).
///
/// Attributes (doc comments, extra derives) on the enum and on each variant are kept.
///
/// ```ignore
/// label_enum! {
///     /// `claudewatch_things_total{kind}`.
///     pub enum Kind {
///         /// A small thing.
///         Small => "small",
///         VeryLarge => "very_large",
///     }
/// }
/// ```
macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every value, in a stable order, for pre-creating label sets at zero (not every
            /// set needs it).
            #[allow(dead_code)]
            $vis const ALL: [$name; <[&str]>::len(&[$($text),+])] = [$($name::$variant),+];

            /// The label value.
            $vis const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value whose text is exactly `text`, if any.
            #[allow(dead_code)]
            $vis fn from_value(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::prometheus_client::encoding::EncodeLabelValue for $name {
            fn encode(
                &self,
                encoder: &mut ::prometheus_client::encoding::LabelValueEncoder<'_>,
            ) -> ::std::fmt::Result {
                ::std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    };
}

pub(crate) use label_enum;

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::registry::Registry;

    label_enum! {
        /// A test set.
        enum Shade {
            /// Documented variant.
            Light => "light",
            DarkGrey => "dark_grey",
        }
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ShadeLabels {
        shade: Shade,
    }

    #[test]
    fn all_lists_every_variant_in_order() {
        assert_eq!(Shade::ALL, [Shade::Light, Shade::DarkGrey]);
        assert!(Shade::Light < Shade::DarkGrey);
    }

    #[test]
    fn text_round_trips_exactly() {
        for shade in Shade::ALL {
            assert_eq!(Shade::from_value(shade.as_str()), Some(shade));
            assert_eq!(shade.to_string(), shade.as_str());
        }
        assert_eq!(Shade::DarkGrey.as_str(), "dark_grey");
        assert_eq!(Shade::from_value("DarkGrey"), None);
        assert_eq!(Shade::from_value(" light"), None);
    }

    #[test]
    fn encodes_the_text_as_the_label_value() {
        let family = Family::<ShadeLabels, Counter>::default();
        family.get_or_create(&ShadeLabels { shade: Shade::DarkGrey }).inc();
        let mut registry = Registry::default();
        registry.register("shades", "Shades seen", family);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(out.contains("shades_total{shade=\"dark_grey\"} 1"), "{out}");
    }
}
