//! Headless Chromium for the web UI tests: Debian's `chromium` driven through
//! `chromedriver` (started here on a free loopback port, in its own process
//! group) with fantoccini. Without them the tests skip with a message, unless
//! `CI` is set, where a missing browser fails the run.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value as Json};

/// How long a wait for the page lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// chromium and chromedriver, or `None` (skip) outside CI.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium").or_else(|| on_path("chromium-browser"));
    let driver = on_path("chromedriver");
    let found = chromium.is_some() && driver.is_some();
    crate::common::available(
        found,
        "chromium and chromedriver",
        "apt-get install chromium chromium-driver",
    );
    chromium.zip(driver)
}

/// One browser session on one daemon.
pub struct Browser {
    pub client: Client,
    driver: Child,
    pub base: String,
}

impl Browser {
    /// A browser whose preferred language is `lang` (e.g. "en-US"), at the
    /// daemon's page; `None` when the browser is not installed (outside CI).
    pub async fn open(addr: SocketAddr, lang: &str) -> Option<Browser> {
        let (chromium, driver_path) = tools()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver");
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", format!("--lang={lang}")],
                "prefs": {"intl.accept_languages": lang},
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session through chromedriver");
        let browser = Browser {
            client,
            driver,
            base: format!("http://{addr}"),
        };
        browser
            .client
            .goto(&format!("{}/", browser.base))
            .await
            .unwrap();
        browser
            .until("document.body.dataset.ready === '1'", "the page to start")
            .await;
        Some(browser)
    }

    /// Runs `return (EXPR)` in the page.
    pub async fn js(&self, expr: &str) -> Json {
        self.client
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap_or_else(|e| panic!("script {expr}: {e}"))
    }

    /// Polls `EXPR` until it is truthy, failing after [`PATIENCE`]; returns its value.
    pub async fn until(&self, expr: &str, what: &str) -> Json {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let v = self.js(expr).await;
            let truthy =
                !matches!(v, Json::Null | Json::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if Instant::now() >= deadline {
                let html = self.js("document.body.innerText").await;
                panic!("waited in vain for {what} ({expr}); the page says:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element `css` names; a live page redraws its rows every
    /// second, so an element gone stale between finding and clicking is found again.
    pub async fn click(&self, css: &str) {
        let mut tries = 0;
        loop {
            let found = self.client.find(Locator::Css(css)).await;
            let clicked = match found {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if tries < 5 && e.to_string().contains("stale") => tries += 1,
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    /// Replaces the text of an input.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Logs in with the form (empty fields: `--auth none`) and waits for the first page.
    pub async fn login(&self, user: &str, password: &str) {
        self.until(
            "!document.getElementById('login-view').hidden",
            "the login form",
        )
        .await;
        self.type_into("#login-user", user).await;
        self.type_into("#login-password", password).await;
        self.click("#login-form button[type=submit]").await;
        self.until(
            "Number(document.body.dataset.loads || 0) > 0",
            "the first page",
        )
        .await;
    }

    /// Types a filter and applies it with Enter, waiting for the new page.
    pub async fn filter(&self, text: &str) {
        let loads = self.loads().await;
        self.type_into("#filter", text).await;
        let input = self.client.find(Locator::Css("#filter")).await.unwrap();
        input.send_keys(&fantoccini::key::Key::Enter).await.unwrap();
        // A live refresh for the previous filter may land first: wait for a
        // page drawn for this one.
        let wanted = serde_json::to_string(text.trim()).unwrap();
        self.until(
            &format!(
                "Number(document.body.dataset.loads) > {loads} && document.body.dataset.filter === {wanted}"
            ),
            "the filtered page",
        )
        .await;
    }

    /// How many pages the table has drawn so far.
    pub async fn loads(&self) -> u64 {
        self.js("Number(document.body.dataset.loads || 0)")
            .await
            .as_u64()
            .unwrap_or(0)
    }

    /// The ids of the rows shown.
    pub async fn row_ids(&self) -> Vec<u32> {
        let v = self
            .js("[...document.querySelectorAll('#rows tr')].map(r => Number(r.dataset.id))")
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    }

    /// The text of one column's cells, top to bottom.
    pub async fn column(&self, col: &str) -> Vec<String> {
        let v = self
            .js(&format!(
                "[...document.querySelectorAll('#rows td[data-col=\"{col}\"]')].map(td => td.textContent)"
            ))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    /// Saves a PNG of the window under `target/screenshots/`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        self.stop_driver();
    }

    fn stop_driver(&mut self) {
        // The driver leads its own process group, chromium included.
        let pgid = nix::unistd::Pid::from_raw(-(self.driver.id() as i32));
        let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop_driver();
    }
}
