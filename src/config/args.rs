//! How the command-line and environment overrides ([`SettingsArgs`], read
//! by clap) are merged over `ragway.toml` and the defaults into
//! [`Settings`].

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;

use super::{Settings, SettingsArgs};

impl SettingsArgs {
    /// Merge defaults, the settings file (if it exists) and these overrides.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if self.config.exists() {
            figment = figment.merge(Toml::file_exact(&self.config));
        } else if self.config != std::path::Path::new("ragway.toml") {
            anyhow::bail!("settings file {} does not exist", self.config.display());
        }
        let settings: Settings = figment
            .merge(Serialized::defaults(self))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }
}
