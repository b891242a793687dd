//! The AWS shared configuration files: `~/.aws/credentials` and `~/.aws/config` (or
//! `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`), profile `AWS_PROFILE` or `default`,
//! read as the AWS CLI reads them (keys, session token, region, endpoint).
/// The profile's settings as object_store config keys (`aws_access_key_id`,
/// `aws_secret_access_key`, `aws_session_token`, `aws_region`, `aws_endpoint`).
pub fn settings() -> Vec<(String, String)> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let name = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let mut out = Vec::new();
    if let Some(text) = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        out.extend(section(&text, &name));
    }
    if let Some(text) =
        file("AWS_CONFIG_FILE", "config").and_then(|p| std::fs::read_to_string(p).ok())
    {
        let header = if name == "default" {
            name.clone()
        } else {
            format!("profile {name}")
        };
        out.extend(section(&text, &header));
    }
    out.into_iter()
        .filter_map(|(k, v)| {
            let key = match k.as_str() {
                "aws_access_key_id" | "aws_secret_access_key" | "aws_session_token" => k,
                "region" => "aws_region".into(),
                "endpoint_url" => "aws_endpoint".into(),
                _ => return None,
            };
            Some((key, v))
        })
        .collect()
}

/// The `key = value` lines of section `[name]` of an INI text.
pub fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == name;
        } else if inside && !line.starts_with(['#', ';']) {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_profile_section_is_read() {
        let text = "[default]\naws_access_key_id = A\n[prod]\n# note\naws_access_key_id=B\n\
                    aws_secret_access_key = S\n";
        assert_eq!(
            super::section(text, "prod"),
            [
                ("aws_access_key_id".to_owned(), "B".to_owned()),
                ("aws_secret_access_key".to_owned(), "S".to_owned())
            ]
        );
    }
}
