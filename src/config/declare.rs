//! The `settings!` macro: from one list of settings (see `fields.rs`), the
//! resolved [`Settings`](super::Settings), their `Default`, and the
//! command-line and environment overrides [`SettingsArgs`](super::SettingsArgs).
//!
//! Each entry:
//!
//! ```text
//! /// Help text, shown by `ragway serve --help` and on the field [default: …].
//! [env = "RAGWAY_NAME", other clap `arg` attributes…]
//! #[serde(skip_serializing)]                 (optional: secrets)
//! name: Type = default_expression; flag FlagType;
//! ```
//!
//! `FlagType` is what one flag or variable gives (`String` for a setting of
//! type `Option<String>`); every override is optional, so that what is not
//! given falls through to `ragway.toml`, then to the default.

macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        [$($arg:tt)*]
        $(#[serde($($serde:tt)*)])?
        $name:ident : $ty:ty = $default:expr ; flag $flag:ty ;
    )*) => {
        /// Resolved settings of one ragway process.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub struct Settings {
            $(
                $(#[doc = $doc])*
                $(#[serde($($serde)*)])?
                pub $name: $ty,
            )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    $($name: $default,)*
                }
            }
        }

        /// Command-line and environment overrides; `ragway serve --help`
        /// prints them all.
        ///
        /// Every field is optional: what is not given falls through to
        /// `ragway.toml`, then to the built-in default.
        #[derive(Debug, Clone, Default, clap::Args, Serialize)]
        pub struct SettingsArgs {
            /// Settings file (TOML, keys named like the flags with `_`).
            #[arg(long, env = "RAGWAY_CONFIG", default_value = "ragway.toml")]
            #[serde(skip)]
            pub config: PathBuf,
            $(
                $(#[doc = $doc])*
                #[arg(long, $($arg)*)]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $name: Option<$flag>,
            )*
        }
    };
}

pub(super) use settings;
