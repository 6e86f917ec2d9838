//! The DER subset Kerberos messages use (RFC 4120 §5: SEQUENCE, explicit context and APPLICATION tags,
//! INTEGER, OCTET STRING, GeneralString, GeneralizedTime, BIT STRING): a writer that builds TLVs and a reader
//! that walks them without copying. Every length is checked against what is left; nothing recurses.

use super::KerberosError;

/// A tag and its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const GENERAL_STRING: u8 = 0x1b;
const GENERALIZED_TIME: u8 = 0x18;
/// The constructed context-specific class: `[n]` is `0xA0 | n`.
const CONTEXT: u8 = 0xA0;
/// The constructed application class: `[APPLICATION n]` is `0x60 | n`.
const APPLICATION: u8 = 0x60;

fn malformed(what: &'static str) -> KerberosError {
    KerberosError::Malformed(what)
}

// ---- writing -------------------------------------------------------------------------------------------

/// `tag`, the DER length of `content`, then `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already encoded parts.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// `[n] EXPLICIT inner`.
pub fn ctx(n: u8, inner: Vec<u8>) -> Vec<u8> {
    tlv(CONTEXT | n, &inner)
}

/// `[APPLICATION n] inner` (n below 31).
pub fn app(n: u8, inner: Vec<u8>) -> Vec<u8> {
    tlv(APPLICATION | n, &inner)
}

/// The shortest two's-complement INTEGER.
pub fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(INTEGER, &bytes[start..])
}

pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, b)
}

/// A KerberosString (GeneralString, IA5 content in practice).
pub fn string(s: &str) -> Vec<u8> {
    tlv(GENERAL_STRING, s.as_bytes())
}

/// A KerberosTime: GeneralizedTime `YYYYMMDDHHMMSSZ`, UTC, whole seconds.
pub fn time(unix: u64) -> Vec<u8> {
    let c = crate::civil::CivilTime::from_unix(unix);
    let text = format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second);
    tlv(GENERALIZED_TIME, text.as_bytes())
}

/// KerberosFlags: a 32-bit BIT STRING, bit 0 the most significant.
pub fn flags(bits: u32) -> Vec<u8> {
    let mut content = vec![0u8];
    content.extend_from_slice(&bits.to_be_bytes());
    tlv(BIT_STRING, &content)
}

// ---- reading -------------------------------------------------------------------------------------------

/// The first TLV of `input` and what follows it.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), KerberosError> {
    let (&tag, rest) = input.split_first().ok_or(malformed("truncated DER"))?;
    if tag & 0x1f == 0x1f {
        return Err(malformed("DER tag numbers above 30 are not used by Kerberos"));
    }
    let (&first, rest) = rest.split_first().ok_or(malformed("truncated DER length"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(malformed("DER length"));
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(malformed("DER content shorter than its length"));
    }
    Ok((Tlv { tag, content: &rest[..len] }, &rest[len..]))
}

/// The content of the TLV at the start of `input`, which must carry `tag`.
pub fn expect(input: &[u8], tag: u8) -> Result<&[u8], KerberosError> {
    let (t, _) = read(input)?;
    if t.tag != tag {
        return Err(malformed("unexpected DER tag"));
    }
    Ok(t.content)
}

/// The content of `[APPLICATION n]`.
pub fn expect_app(input: &[u8], n: u8) -> Result<&[u8], KerberosError> {
    expect(input, APPLICATION | n)
}

/// The application tag number of the message at the start of `input`, if it has one.
pub fn app_tag(input: &[u8]) -> Option<u8> {
    let (t, _) = read(input).ok()?;
    (t.tag & 0xe0 == APPLICATION).then_some(t.tag & 0x1f)
}

/// The explicitly tagged fields of a SEQUENCE, by context number.
pub struct Fields<'a> {
    fields: Vec<(u8, &'a [u8])>,
}

impl<'a> Fields<'a> {
    /// The fields of the SEQUENCE at the start of `input`.
    pub fn of(input: &'a [u8]) -> Result<Fields<'a>, KerberosError> {
        let mut content = expect(input, SEQUENCE)?;
        let mut fields = Vec::new();
        while !content.is_empty() {
            let (t, rest) = read(content)?;
            if t.tag & 0xe0 != CONTEXT {
                return Err(malformed("a SEQUENCE field without a context tag"));
            }
            fields.push((t.tag & 0x1f, t.content));
            content = rest;
        }
        Ok(Fields { fields })
    }

    /// The encoded value inside `[n]`, if present.
    pub fn get(&self, n: u8) -> Option<&'a [u8]> {
        self.fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
    }

    /// The encoded value inside `[n]`, which must be present.
    pub fn need(&self, n: u8, what: &'static str) -> Result<&'a [u8], KerberosError> {
        self.get(n).ok_or(malformed(what))
    }

    pub fn int(&self, n: u8, what: &'static str) -> Result<i64, KerberosError> {
        read_int(self.need(n, what)?)
    }

    pub fn octets(&self, n: u8, what: &'static str) -> Result<&'a [u8], KerberosError> {
        expect(self.need(n, what)?, OCTET_STRING)
    }

    pub fn string(&self, n: u8, what: &'static str) -> Result<String, KerberosError> {
        read_string(self.need(n, what)?)
    }

    pub fn time(&self, n: u8, what: &'static str) -> Result<u64, KerberosError> {
        read_time(self.need(n, what)?)
    }
}

pub fn read_int(input: &[u8]) -> Result<i64, KerberosError> {
    let c = expect(input, INTEGER)?;
    if c.is_empty() || c.len() > 8 {
        return Err(malformed("INTEGER"));
    }
    let mut v: i64 = if c[0] & 0x80 != 0 { -1 } else { 0 };
    for b in c {
        v = (v << 8) | *b as i64;
    }
    Ok(v)
}

pub fn read_string(input: &[u8]) -> Result<String, KerberosError> {
    let c = expect(input, GENERAL_STRING)?;
    String::from_utf8(c.to_vec()).map_err(|_| malformed("KerberosString is not text"))
}

pub fn read_time(input: &[u8]) -> Result<u64, KerberosError> {
    let c = expect(input, GENERALIZED_TIME)?;
    let text = std::str::from_utf8(c).map_err(|_| malformed("KerberosTime"))?;
    let digits = text.strip_suffix('Z').filter(|d| d.len() == 14 && d.bytes().all(|b| b.is_ascii_digit()));
    let d = digits.ok_or(malformed("KerberosTime is not YYYYMMDDHHMMSSZ"))?;
    let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let days = days_from_civil(n(0..4) as i64, n(4..6), n(6..8));
    let secs = days * 86_400 + (n(8..10) * 3600 + n(10..12) * 60 + n(12..14)) as i64;
    u64::try_from(secs).map_err(|_| malformed("KerberosTime before 1970"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The elements of a SEQUENCE OF.
pub fn seq_of(input: &[u8]) -> Result<Vec<&[u8]>, KerberosError> {
    let mut content = expect(input, SEQUENCE)?;
    let mut items = Vec::new();
    while !content.is_empty() {
        let (_, rest) = read(content)?;
        items.push(&content[..content.len() - rest.len()]);
        content = rest;
    }
    Ok(items)
}

/// KerberosFlags as a 32-bit number (bit 0 the most significant).
pub fn read_flags(input: &[u8]) -> Result<u32, KerberosError> {
    let c = expect(input, BIT_STRING)?;
    let bits = c.get(1..).ok_or(malformed("BIT STRING"))?;
    let mut v = [0u8; 4];
    for (i, b) in bits.iter().take(4).enumerate() {
        v[i] = *b;
    }
    Ok(u32::from_be_bytes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_read_back() {
        assert_eq!(int(0), [2, 1, 0]);
        assert_eq!(int(127), [2, 1, 0x7f]);
        assert_eq!(int(128), [2, 2, 0, 0x80]);
        assert_eq!(int(-1), [2, 1, 0xff]);
        assert_eq!(int(-138), [2, 2, 0xff, 0x76]);
        for v in [0, 5, 127, 128, 255, 256, 0x7fff_ffff, 0xffff_ffff, -1, -128, -129, -138] {
            assert_eq!(read_int(&int(v)).unwrap(), v);
        }
    }

    #[test]
    fn long_lengths_and_times_round_trip() {
        let big = vec![7u8; 300];
        let enc = octets(&big);
        assert_eq!(&enc[..4], &[4, 0x82, 0x01, 0x2c]);
        assert_eq!(expect(&enc, 4).unwrap(), &big[..]);
        let t = 1_796_000_000; // 2026-11-30
        assert_eq!(read_time(&time(t)).unwrap(), t);
        assert_eq!(&time(0)[2..], b"19700101000000Z");
    }

    #[test]
    fn truncated_and_lying_input_is_an_error_not_a_panic() {
        assert!(read(&[]).is_err());
        assert!(read(&[0x30]).is_err());
        assert!(read(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(read(&[0x30, 0x05, 1]).is_err());
        assert!(Fields::of(&[0x30, 0x02, 0x02, 0x00]).is_err());
        assert!(read_time(&tlv(0x18, b"2026113000000Z")).is_err());
    }
}
