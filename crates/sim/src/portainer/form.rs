//! Form values as Go's `r.FormValue` sees them (what request.RetrieveMultiPartFormValue calls):
//! a `multipart/form-data` body or an `application/x-www-form-urlencoded` body, then the URL
//! query. Any other body (JSON included) contributes nothing — Go ignores the parse error — so a
//! JSON environment-creation body reads as "no Name" and is refused with `Invalid environment
//! name`, exactly the original phoenix's failure. Parts with a filename are files
//! (`r.FormFile`), not values.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct Form {
    values: Vec<(String, String)>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Form {
    pub fn parse(content_type: Option<&str>, body: &[u8], query: &[(String, String)]) -> Form {
        let mut form = Form::default();
        let ct = content_type.unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media == "multipart/form-data" {
            if let Some(boundary) = param(ct, "boundary") {
                // A malformed body is ignored like Go's FormValue ignores ParseMultipartForm's error.
                if let Some((values, files)) = parse_multipart(body, &boundary) {
                    form.values = values;
                    form.files = files;
                }
            }
        } else if media == "application/x-www-form-urlencoded" {
            form.values = parse_urlencoded(&String::from_utf8_lossy(body));
        }
        form.values.extend(query.iter().cloned());
        form
    }

    /// The first value for `name` (Go's FormValue), "" when absent.
    pub fn value(&self, name: &str) -> &str {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }
}

/// A `key=value` parameter of a header value (`boundary=…`, `name="…"`), quotes removed.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(v);
        Some(v.replace("\\\"", "\"").replace("\\\\", "\\"))
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

type Parts = (Vec<(String, String)>, BTreeMap<String, Vec<u8>>);

/// RFC 7578 body: `--boundary CRLF headers CRLF CRLF content CRLF --boundary … --boundary--`.
fn parse_multipart(body: &[u8], boundary: &str) -> Option<Parts> {
    let delim = format!("--{boundary}").into_bytes();
    let mut values = Vec::new();
    let mut files = BTreeMap::new();
    let mut pos = find(body, &delim, 0)? + delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some((values, files));
        }
        pos += if body[pos..].starts_with(b"\r\n") { 2 } else { return None };
        let header_end = find(body, b"\r\n\r\n", pos)?;
        let headers = String::from_utf8_lossy(&body[pos..header_end]).to_string();
        let content_start = header_end + 4;
        let mut next_delim = delim.clone();
        next_delim.splice(0..0, b"\r\n".iter().copied());
        let content_end = find(body, &next_delim, content_start)?;
        let content = &body[content_start..content_end];
        let disposition = headers.split("\r\n").find(|h| h.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let name = param(disposition, "name")?;
        if param(disposition, "filename").is_some() {
            files.insert(name, content.to_vec());
        } else {
            values.push((name, String::from_utf8_lossy(content).to_string()));
        }
        pos = content_end + next_delim.len();
    }
}

/// `a=1&b=x+y%21` → [(a,1),(b,"x y!")], as Go's url.ParseQuery (bad escapes keep the raw text).
pub fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_values_files_and_query() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"Name\"\r\n\r\nagent-1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"TLSCACertFile\"; filename=\"ca.pem\"\r\nContent-Type: application/octet-stream\r\n\r\nPEM\r\n--XyZ--\r\n";
        let q = vec![("endpointId".to_string(), "3".to_string())];
        let f = Form::parse(Some("multipart/form-data; boundary=XyZ"), body, &q);
        assert_eq!(f.value("Name"), "agent-1");
        assert_eq!(f.value("TLSCACertFile"), "");
        assert_eq!(f.file("TLSCACertFile"), Some(&b"PEM"[..]));
        assert_eq!(f.value("endpointId"), "3");
    }

    #[test]
    fn json_body_contributes_nothing() {
        let f = Form::parse(Some("application/json"), br#"{"Name":"x"}"#, &[]);
        assert_eq!(f.value("Name"), "");
    }

    #[test]
    fn urlencoded_and_escapes() {
        let f = Form::parse(
            Some("application/x-www-form-urlencoded"),
            b"Name=a+b%21&URL=tcp%3A%2F%2Fh%3A9001&bad=%zz",
            &[],
        );
        assert_eq!(f.value("Name"), "a b!");
        assert_eq!(f.value("URL"), "tcp://h:9001");
        assert_eq!(f.value("bad"), "%zz");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
