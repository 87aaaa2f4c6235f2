//! A route's `cors` table becomes a [`CorsPolicy`]; each mistake is reported
//! at the entry that makes it.

use std::ops::Range;

use toml::Spanned;

use super::schema::CorsToml;
use crate::cors::{AllowedOrigins, CorsConfigError, CorsPolicy, HeaderList, parse_header_name};
use crate::limits::parse_duration;
use crate::origin_pattern::OriginPattern;

/// Validates `cors`, whose table starts at `table`.
pub(super) fn parse_cors(cors: Spanned<CorsToml>) -> Result<CorsPolicy, (Range<usize>, String)> {
    let table = cors.span();
    let cors = cors.into_inner();
    let origins = cors.origins.ok_or_else(|| {
        (table.clone(), "cors: missing `origins`, e.g. origins = [\"https://app.example.com\"]".to_owned())
    })?;
    if origins.is_empty() {
        return Err((table.clone(), "cors.origins is empty: list the origins that may call this route".into()));
    }
    let allowed_origins = if let Some(star) = find_star(&origins) {
        if origins.len() > 1 {
            return Err((star.span(), "cors.origins: `*` allows every origin; it cannot be listed with others".into()));
        }
        AllowedOrigins::Any
    } else {
        let patterns = origins
            .iter()
            .map(|o| OriginPattern::parse(o.get_ref()).map_err(|why| (o.span(), format!("cors.origins entry {why}"))));
        AllowedOrigins::Listed(patterns.collect::<Result<_, _>>()?)
    };
    let headers = header_list("headers", &cors.headers)?;
    let expose = header_list("expose", &cors.expose)?;
    let max_age = match &cors.max_age {
        None => None,
        Some(age) => {
            let parsed = parse_duration(age.get_ref()).map_err(|m| (age.span(), format!("cors.max_age: {m}")))?;
            if parsed.subsec_nanos() != 0 {
                return Err((
                    age.span(),
                    "cors.max_age is sent in whole seconds; write e.g. \"10m\" or \"30s\"".into(),
                ));
            }
            Some(parsed)
        }
    };
    let credentials = cors.credentials.as_ref().is_some_and(|c| *c.get_ref());
    CorsPolicy::new(allowed_origins, headers, expose, max_age, credentials).map_err(|why| {
        let star = match why {
            CorsConfigError::AnyOriginWithCredentials => find_star(&origins),
            CorsConfigError::AnyHeaderWithCredentials => find_star(&cors.headers),
            CorsConfigError::ExposeAnyWithCredentials => find_star(&cors.expose),
        };
        (star.map_or(table, Spanned::span), format!("cors: {why}"))
    })
}

fn find_star(entries: &[Spanned<String>]) -> Option<&Spanned<String>> {
    entries.iter().find(|e| e.get_ref().trim() == "*")
}

/// `headers` or `expose`: header names, or `["*"]` alone.
fn header_list(key: &str, entries: &[Spanned<String>]) -> Result<HeaderList, (Range<usize>, String)> {
    if let Some(star) = find_star(entries) {
        if entries.len() > 1 {
            return Err((star.span(), format!("cors.{key}: `*` means every header; it cannot be listed with others")));
        }
        return Ok(HeaderList::Any);
    }
    let names =
        entries.iter().map(|e| parse_header_name(e.get_ref()).map_err(|m| (e.span(), format!("cors.{key}: {m}"))));
    Ok(HeaderList::Listed(names.collect::<Result<_, _>>()?))
}
