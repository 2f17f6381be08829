//! Settings for `s3://` URLs, shared by the blob store and LanceDB: one
//! endpoint, region and addressing style for AWS S3, R2, MinIO and the like.
//! Keys come from the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
//! environment, never from ragway's own settings.

/// What the server's settings say about S3 (`RAGWAY_S3_*`), as the store
/// reads it without knowing the server's settings type.
pub trait S3Config {
    fn s3_endpoint(&self) -> Option<&str>;
    fn s3_region(&self) -> Option<&str>;
    /// `None`: path style exactly when a custom endpoint is set.
    fn s3_path_style(&self) -> Option<bool>;
    /// `None`: plain HTTP exactly when the endpoint says `http://`.
    fn s3_allow_http(&self) -> Option<bool>;
}

/// Where and how to reach an S3-compatible store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    pub allow_http: bool,
}

impl S3Options {
    /// The options `settings` ask for, with defaults that suit a custom
    /// endpoint: path style, and plain HTTP when the endpoint says `http://`.
    pub fn from_settings(settings: &impl S3Config) -> Self {
        let endpoint = settings
            .s3_endpoint()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| e.trim_end_matches('/').to_string());
        let custom = endpoint.is_some();
        let plain = endpoint
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
        Self {
            region: settings
                .s3_region()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            path_style: settings.s3_path_style().unwrap_or(custom),
            allow_http: settings.s3_allow_http().unwrap_or(plain),
            endpoint,
        }
    }

    /// The options as `object_store` configuration keys (which LanceDB's
    /// storage options also take).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            (
                "aws_virtual_hosted_style_request",
                (!self.path_style).to_string(),
            ),
            ("allow_http", self.allow_http.to_string()),
        ];
        if let Some(endpoint) = &self.endpoint {
            pairs.push(("aws_endpoint", endpoint.clone()));
        }
        if let Some(region) = &self.region {
            pairs.push(("aws_region", region.clone()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings' four S3 fields.
    #[derive(Default)]
    struct Settings {
        s3_endpoint: Option<String>,
        s3_region: Option<String>,
        s3_path_style: Option<bool>,
        s3_allow_http: Option<bool>,
    }

    impl S3Config for Settings {
        fn s3_endpoint(&self) -> Option<&str> {
            self.s3_endpoint.as_deref()
        }
        fn s3_region(&self) -> Option<&str> {
            self.s3_region.as_deref()
        }
        fn s3_path_style(&self) -> Option<bool> {
            self.s3_path_style
        }
        fn s3_allow_http(&self) -> Option<bool> {
            self.s3_allow_http
        }
    }

    #[test]
    fn a_custom_http_endpoint_gets_path_style_and_plain_http() {
        let settings = Settings {
            s3_endpoint: Some(" http://127.0.0.1:9000/ ".into()),
            ..Settings::default()
        };
        let options = S3Options::from_settings(&settings);
        assert_eq!(options.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(options.path_style && options.allow_http);
        let pairs = options.pairs();
        assert!(pairs.contains(&("aws_virtual_hosted_style_request", "false".into())));
        assert!(pairs.contains(&("allow_http", "true".into())));
    }

    #[test]
    fn aws_itself_gets_virtual_hosts_over_https_unless_told() {
        let options = S3Options::from_settings(&Settings::default());
        assert!(!options.path_style && !options.allow_http);
        assert!(options
            .pairs()
            .iter()
            .all(|(key, _)| *key != "aws_endpoint"));
        let told = Settings {
            s3_endpoint: Some("https://acc.r2.cloudflarestorage.com".into()),
            s3_region: Some("auto".into()),
            s3_path_style: Some(false),
            ..Settings::default()
        };
        let options = S3Options::from_settings(&told);
        assert!(!options.path_style && !options.allow_http);
        assert!(options.pairs().contains(&("aws_region", "auto".into())));
    }
}
