//! A browser for tests over HTTP: keeps cookies, never follows redirects, reads form fields.

use std::collections::HashMap;

use super::Server;

/// A browser: keeps cookies, never follows redirects.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    pub base: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn field(&self, name: &str) -> String {
        let pat = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&pat)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + pat.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].replace("&#43;", "+")
    }
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            base: server.base.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn finish(&mut self, r: reqwest::Response) -> Page {
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let (kv, _) = s.split_once(';').unwrap_or((s, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        Page {
            status,
            location,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn get_lang(&mut self, path: &str, lang: &str) -> Page {
        let r = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// Follows redirects (as a browser would) until a page that is not one.
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            match (page.status, page.location.clone()) {
                (301 | 302 | 303 | 307, Some(to)) => page = self.get(&to).await,
                _ => return page,
            }
        }
        panic!("too many redirects")
    }

    /// A form with a file, as `<input type="file">` sends it.
    pub async fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Page {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_string())
            .mime_str("image/jpeg")
            .unwrap();
        form = form.part(file_field.to_string(), part);
        let r = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// A GET with extra request headers; the raw response (for bodies that are not text).
    pub async fn get_raw(&mut self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// Signs in from a relying party's sign-in link at the built-in identity provider: the
    /// redirect to /idp/authorize, the provider's form, back through `callback` (a path
    /// prefix). Returns the authorization URL the relying party built and the page it lands on.
    pub async fn sign_in_via_idp(
        &mut self,
        start_path: &str,
        user: &str,
        password: &str,
        callback: &str,
    ) -> (String, Page) {
        let start = self.get(start_path).await;
        assert_eq!(start.status, 303, "{}", start.body);
        let authorize = start.location.clone().unwrap();
        assert!(authorize.contains("/idp/authorize?"), "{authorize}");
        let form = self.follow(start).await;
        assert!(form.body.contains("User ID"), "{}", form.body);
        let (csrf, req) = (form.field("csrf"), form.field("req"));
        let done = self
            .post(
                "/idp/signin",
                &[
                    ("csrf", &csrf),
                    ("req", &req),
                    ("user_id", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let back = done.location.clone().unwrap();
        assert!(back.contains(&format!("{callback}?")), "{back}");
        (authorize, self.follow(done).await)
    }
}
