//! Per-route resource limits and the human-friendly units they are written in
//! (`"64MiB"`, `"10s"`).

use std::time::Duration;

/// Limits applied to every request of one route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory one instance may grow to, in bytes.
    pub memory: u64,
    /// Wall-clock time one request may spend in the guest.
    pub timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body: u64,
    /// Requests of this route running at once; more get `503`.
    pub max_concurrency: u32,
    /// How long a streamed answer may last in all (from the request).
    pub stream_timeout: Duration,
    /// How long a stream may go without progress: the client taking
    /// nothing, or the guest writing nothing.
    pub stream_idle_timeout: Duration,
    /// Most body bytes one streamed answer may send.
    pub max_stream_bytes: u64,
}

impl Limits {
    /// Default guest memory: 64 MiB.
    pub const DEFAULT_MEMORY: u64 = 64 * 1024 * 1024;
    /// Default time limit: 10 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default body limit: 1 MiB.
    pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
    /// Default concurrency per route: 256.
    pub const DEFAULT_MAX_CONCURRENCY: u32 = 256;
    /// Default length of a stream: 5 min (as a Vercel function's longest).
    pub const DEFAULT_STREAM_TIMEOUT: Duration = Duration::from_secs(300);
    /// Default time a stream may stall: 60 s (nginx's `proxy_read_timeout`).
    pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default bytes per stream: 1 GiB.
    pub const DEFAULT_MAX_STREAM_BYTES: u64 = 1 << 30;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: Self::DEFAULT_MEMORY,
            timeout: Self::DEFAULT_TIMEOUT,
            max_body: Self::DEFAULT_MAX_BODY,
            max_concurrency: Self::DEFAULT_MAX_CONCURRENCY,
            stream_timeout: Self::DEFAULT_STREAM_TIMEOUT,
            stream_idle_timeout: Self::DEFAULT_STREAM_IDLE_TIMEOUT,
            max_stream_bytes: Self::DEFAULT_MAX_STREAM_BYTES,
        }
    }
}

/// Parses a byte size: a whole number with an optional unit `B`, `KB`, `KiB`,
/// `MB`, `MiB`, `GB`, `GiB` (case-insensitive, space allowed before the unit).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a size; write e.g. \"64MiB\" or \"512KB\""))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` in `{text}`; use B, KB, KiB, MB, MiB, GB or GiB")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("size `{text}` is too large"))
}

/// Writes a byte size the way [`parse_size`] reads it, in the largest binary
/// unit that divides it exactly (`64MiB`, `1536KiB`, `1000B`).
pub fn format_size(bytes: u64) -> String {
    for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{}{unit}", bytes / scale);
        }
    }
    format!("{bytes}B")
}

/// A byte size for people, rounded to one decimal in the largest binary
/// unit it reaches (`35.4MiB`, `2.0GiB`, `512B`), for sizes no config holds.
pub fn approximate_size(bytes: u64) -> String {
    for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= scale {
            return format!("{:.1}{unit}", bytes as f64 / scale as f64);
        }
    }
    format!("{bytes}B")
}

/// Parses a duration: a whole number with unit `ms`, `s` or `m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration; write e.g. \"10s\" or \"500ms\""))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "" => Err(format!("duration `{text}` needs a unit: ms, s or m")),
        other => Err(format!("unknown duration unit `{other}` in `{text}`; use ms, s or m")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1 KB"), Ok(1000));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("2gib"), Ok(2 << 30));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("3 parsecs").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("99999999999999GiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_round_trip_through_their_text() {
        for (bytes, text) in
            [(64 << 20, "64MiB"), (2 << 30, "2GiB"), (1536 << 10, "1536KiB"), (1000, "1000B"), (0, "0B")]
        {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size(text), Ok(bytes));
        }
    }

    #[test]
    fn approximate_sizes_round_to_one_decimal() {
        assert_eq!(approximate_size(512), "512B");
        assert_eq!(approximate_size(37_123_456), "35.4MiB");
        assert_eq!(approximate_size(2 << 30), "2.0GiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("1h").is_err());
    }
}
