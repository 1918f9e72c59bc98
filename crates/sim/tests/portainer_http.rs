//! The Portainer simulator over real HTTP: a reqwest client on TCP against `start()`ed servers.
//! Expected texts are Portainer CE 2.21's (see crates/sim/src/portainer/*.rs for the handler
//! each follows).

use std::time::{Duration, Instant};

use phoenix_sim::portainer::{start, Fault, FaultAction, PortainerConfig, PortainerSim};
use reqwest::header::HeaderMap;
use reqwest::Method;

/// A crypto provider for reqwest's rustls (a workspace build selects phoenix's features, which
/// bring no provider of their own). Installing it twice is harmless.
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
use serde_json::{json, Value};

const PASSWORD: &str = "s3cret-Adm1n-pass";

struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn message(&self) -> (String, String) {
        let v = self.json();
        (v["message"].as_str().unwrap_or("").into(), v["details"].as_str().unwrap_or("").into())
    }
}

enum Auth<'a> {
    None,
    Jwt(&'a str),
    Key(&'a str),
}

enum Body {
    Empty,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(sim: &PortainerSim) -> Self {
        install_crypto();
        Client { http: reqwest::Client::new(), base: sim.base_url() }
    }

    async fn call(&self, method: Method, path: &str, auth: Auth<'_>, body: Body) -> Answer {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        rb = match auth {
            Auth::None => rb,
            Auth::Jwt(t) => rb.header("Authorization", format!("Bearer {t}")),
            Auth::Key(k) => rb.header("X-API-Key", k),
        };
        rb = match body {
            Body::Empty => rb,
            Body::Json(v) => rb.json(&v),
            Body::Raw(ct, bytes) => rb.header("Content-Type", ct).body(bytes),
        };
        let resp = rb.send().await.expect("request reaches the simulator");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Answer { status, headers, text: resp.text().await.unwrap() }
    }

    async fn get(&self, path: &str, auth: Auth<'_>) -> Answer {
        self.call(Method::GET, path, auth, Body::Empty).await
    }

    async fn init_admin(&self) -> Answer {
        let body = json!({"Username": "admin", "Password": PASSWORD});
        self.call(Method::POST, "/api/users/admin/init", Auth::None, Body::Json(body)).await
    }

    async fn login(&self) -> String {
        let body = json!({"username": "admin", "password": PASSWORD});
        let a = self.call(Method::POST, "/api/auth", Auth::None, Body::Json(body)).await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.json()["jwt"].as_str().unwrap().to_string()
    }

    async fn create_key(&self, jwt: &str) -> String {
        let body = json!({"description": "phoenix-sync", "password": PASSWORD});
        let a = self.call(Method::POST, "/api/users/1/tokens", Auth::Jwt(jwt), Body::Json(body)).await;
        assert_eq!(a.status, 201, "{}", a.text);
        a.json()["rawAPIKey"].as_str().unwrap().to_string()
    }

    /// Admin, JWT and API key: the bootstrap every later test starts from.
    async fn bootstrap(&self) -> (String, String) {
        assert_eq!(self.init_admin().await.status, 200);
        let jwt = self.login().await;
        let key = self.create_key(&jwt).await;
        (jwt, key)
    }

    async fn create_agent(&self, key: &str, name: &str, url: &str) -> Answer {
        let form = multipart(&[
            ("Name", name),
            ("EndpointCreationType", "2"),
            ("URL", url),
            ("GroupID", "1"),
            ("TLS", "true"),
            ("TLSSkipVerify", "true"),
            ("TLSSkipClientVerify", "true"),
        ]);
        self.call(Method::POST, "/api/endpoints", Auth::Key(key), form).await
    }

    async fn create_stack(&self, key: &str, endpoint: u64, name: &str, content: &str) -> Answer {
        let body = json!({"name": name, "stackFileContent": content, "env": [{"name": "TOKEN", "value": "abc"}]});
        let path = format!("/api/stacks/create/standalone/string?endpointId={endpoint}");
        self.call(Method::POST, &path, Auth::Key(key), Body::Json(body)).await
    }
}

/// A multipart/form-data body as browsers and reqwest send it.
fn multipart(fields: &[(&str, &str)]) -> Body {
    let boundary = "----phoenixSimBoundary7MA4YWxk";
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let ct: &'static str = Box::leak(format!("multipart/form-data; boundary={boundary}").into_boxed_str());
    Body::Raw(ct, out)
}

/// A raw API key is standard base64: `+`, `/` and `=` must be escaped in a query string
/// (an unescaped `+` reads as a space, in Go as here).
fn query_escape(value: &str) -> String {
    value.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

fn sim() -> PortainerSim {
    start(PortainerConfig::default()).expect("simulator starts")
}

const COMPOSE: &str = "services:\n  web:\n    image: nginx:1.27\n";

#[tokio::test]
async fn status_admin_check_and_init_exactly_once() {
    let s = sim();
    let c = Client::new(&s);
    let st = c.get("/api/system/status", Auth::None).await;
    assert_eq!(st.status, 200);
    assert_eq!(st.json()["Version"], "2.21.4");
    assert_eq!(st.json()["InstanceID"].as_str().unwrap().len(), 36);
    assert_eq!(c.get("/api/status", Auth::None).await.json()["InstanceID"], st.json()["InstanceID"]);

    let check = c.get("/api/users/admin/check", Auth::None).await;
    assert_eq!(check.status, 404);
    assert_eq!(check.message().0, "No administrator account found inside the database");

    let short = json!({"Username": "admin", "Password": "elevenchars"});
    let a = c.call(Method::POST, "/api/users/admin/init", Auth::None, Body::Json(short)).await;
    assert_eq!((a.status, a.message().0.as_str()), (400, "Password does not meet the requirements"));
    let spaced = json!({"Username": "ad min", "Password": PASSWORD});
    let a = c.call(Method::POST, "/api/users/admin/init", Auth::None, Body::Json(spaced)).await;
    assert_eq!(
        a.message(),
        ("Invalid request payload".into(), "Invalid username. Must not contain any whitespace".into())
    );

    let first = c.init_admin().await;
    assert_eq!(first.status, 200, "{}", first.text);
    let user = first.json();
    assert_eq!(
        (user["Id"].as_u64(), user["Username"].as_str(), user["Role"].as_u64()),
        (Some(1), Some("admin"), Some(1))
    );
    assert!(!first.text.contains(PASSWORD), "the stored hash, never the password");
    assert_eq!(c.get("/api/users/admin/check", Auth::None).await.status, 204);

    let second = c.init_admin().await;
    assert_eq!(second.status, 409);
    assert_eq!(
        second.text,
        r#"{"message":"Unable to create administrator user","details":"An administrator user already exists"}"#
    );
    assert_eq!(second.headers["content-type"], "application/json");
}

#[tokio::test]
async fn init_window_passed_answers_303_until_restart() {
    let s = sim();
    let c = Client::new(&s);
    s.advance_clock(Duration::from_secs(5 * 60 + 1));
    let a = c.init_admin().await;
    assert_eq!(a.status, 303);
    assert_eq!(
        a.message(),
        ("Administrator initialization timeout".into(), "Administrator initialization timeout".into())
    );
    assert_eq!(a.headers["redirect-reason"], "AdminInitTimeout");
    // Only the exact RequestURI /api/status is let through; /api/system/status is not.
    assert_eq!(c.get("/api/system/status", Auth::None).await.status, 303);
    assert_eq!(c.get("/api/status", Auth::None).await.status, 200);
    assert_eq!(c.get("/api/users/admin/check", Auth::None).await.status, 303);

    s.restart().unwrap();
    assert_eq!(c.init_admin().await.status, 200, "a restart opens a new window");
    s.advance_clock(Duration::from_secs(3600));
    assert_eq!(c.get("/api/users/admin/check", Auth::None).await.status, 204, "an admin in time: never disabled");
}

#[tokio::test]
async fn init_window_follows_real_elapsed_time() {
    let s = start(PortainerConfig { init_window: Duration::from_millis(150), ..PortainerConfig::default() }).unwrap();
    let c = Client::new(&s);
    assert_eq!(c.get("/api/users/admin/check", Auth::None).await.status, 404);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(c.init_admin().await.status, 303);
}

#[tokio::test]
async fn login_api_keys_and_every_auth_refusal() {
    let s = sim();
    let c = Client::new(&s);
    assert_eq!(c.init_admin().await.status, 200);

    let wrong = json!({"username": "admin", "password": "not-the-password"});
    let a = c.call(Method::POST, "/api/auth", Auth::None, Body::Json(wrong)).await;
    assert_eq!((a.status, a.message()), (422, ("Invalid credentials".into(), "Unauthorized".into())));
    let nobody = json!({"username": "ghost", "password": PASSWORD});
    assert_eq!(c.call(Method::POST, "/api/auth", Auth::None, Body::Json(nobody)).await.status, 422);
    let empty = json!({"username": "admin"});
    let a = c.call(Method::POST, "/api/auth", Auth::None, Body::Json(empty)).await;
    assert_eq!((a.status, a.message().1.as_str()), (400, "Invalid password"));

    let jwt = c.login().await;
    assert_eq!(jwt.split('.').count(), 3);

    let body = json!({"description": "phoenix-sync", "password": PASSWORD});
    let created = c.call(Method::POST, "/api/users/1/tokens", Auth::Jwt(&jwt), Body::Json(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let raw = created.json()["rawAPIKey"].as_str().unwrap().to_string();
    assert!(raw.starts_with("ptr_") && raw.len() == 48, "{raw}");
    assert_eq!(created.json()["apiKey"]["prefix"].as_str().unwrap(), &raw[..7]);
    assert_eq!(created.json()["apiKey"]["description"], "phoenix-sync");

    // Creating a key needs a JWT: an API key alone is refused.
    let body = json!({"description": "again", "password": PASSWORD});
    let a = c.call(Method::POST, "/api/users/1/tokens", Auth::Key(&raw), Body::Json(body)).await;
    assert_eq!((a.status, a.message()), (401, ("Auth not supported".into(), "Authentication required".into())));
    let body = json!({"description": "x", "password": "wrong-password!"});
    let a = c.call(Method::POST, "/api/users/1/tokens", Auth::Jwt(&jwt), Body::Json(body)).await;
    assert_eq!((a.status, a.message().0.as_str()), (403, "Current password doesn't match"));
    let body = json!({"description": "", "password": PASSWORD});
    let a = c.call(Method::POST, "/api/users/1/tokens", Auth::Jwt(&jwt), Body::Json(body)).await;
    assert_eq!((a.status, a.message().1.as_str()), (400, "Invalid description: cannot be empty"));
    let body = json!({"description": "d".repeat(128), "password": PASSWORD});
    assert_eq!(c.call(Method::POST, "/api/users/1/tokens", Auth::Jwt(&jwt), Body::Json(body)).await.status, 400);

    let list = c.get("/api/users/1/tokens", Auth::Key(&raw)).await;
    assert_eq!(list.status, 200);
    let keys = list.json();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(keys[0].get("digest").is_none(), "digest hidden when listing");

    let bad = c.get("/api/endpoints", Auth::Key("ptr_bogusbogusbogusbogusbogusbogusbogusbogusbogu")).await;
    assert_eq!((bad.status, bad.message()), (401, ("Invalid JWT token".into(), "Unauthorized".into())));
    let bad_jwt = c.get("/api/endpoints", Auth::Jwt("a.b.c")).await;
    assert_eq!((bad_jwt.status, bad_jwt.message().0.as_str()), (401, "Invalid JWT token"));
    let none = c.get("/api/endpoints", Auth::None).await;
    assert_eq!((none.status, none.message().0.as_str()), (401, "A valid authorization token is missing"));
    let both = c
        .http
        .get(format!("{}/api/endpoints", c.base))
        .header("X-API-Key", &raw)
        .header("Authorization", format!("Bearer {jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(both.status().as_u16(), 403);
    let by_query = c.get(&format!("/api/endpoints?X-Api-Key={}", query_escape(&raw)), Auth::None).await;
    assert_eq!(by_query.status, 200, "the key is also accepted as a query parameter");

    let del = c.call(Method::DELETE, "/api/users/1/tokens/1", Auth::Jwt(&jwt), Body::Empty).await;
    assert_eq!(del.status, 204);
    assert_eq!(c.get("/api/endpoints", Auth::Key(&raw)).await.status, 401, "revoked key refused");
    let again = c.call(Method::DELETE, "/api/users/1/tokens/1", Auth::Jwt(&jwt), Body::Empty).await;
    assert_eq!((again.status, again.message().0.as_str()), (500, "API Key not found"));

    // JWTs expire (8 h by default); the simulated clock moves past it.
    s.advance_clock(Duration::from_secs(8 * 3600 + 1));
    assert_eq!(c.get("/api/endpoints", Auth::Jwt(&jwt)).await.status, 401);
}

#[tokio::test]
async fn endpoints_are_created_from_multipart_only() {
    let s = sim();
    let c = Client::new(&s);
    let (_, key) = c.bootstrap().await;

    let as_json = json!({"Name": "agent-1", "EndpointCreationType": 2, "URL": "tcp://10.0.0.5:9001"});
    let a = c.call(Method::POST, "/api/endpoints", Auth::Key(&key), Body::Json(as_json)).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.text, r#"{"message":"Invalid request payload","details":"Invalid environment name"}"#);

    let no_type = multipart(&[("Name", "x")]);
    let a = c.call(Method::POST, "/api/endpoints", Auth::Key(&key), no_type).await;
    assert!(
        a.message().1.starts_with("Invalid environment type value. Value must be one of: 1 (Docker environment)"),
        "{}",
        a.text
    );

    let created = c.create_agent(&key, "agent-1", "tcp://10.0.0.5:9001").await;
    assert_eq!(created.status, 200, "{}", created.text);
    let e = created.json();
    assert_eq!(
        (e["Id"].as_u64(), e["Type"].as_u64(), e["URL"].as_str()),
        (Some(1), Some(2), Some("tcp://10.0.0.5:9001"))
    );
    assert_eq!(e["TLSConfig"], json!({"TLS": true, "TLSSkipVerify": true}));

    let dup = c.create_agent(&key, "agent-1", "tcp://10.0.0.6:9001").await;
    assert_eq!(dup.text, r#"{"message":"Name is not unique","details":"Name is not unique"}"#);
    assert_eq!(dup.status, 409);

    // The agent's certificate is self-signed: without TLSSkipVerify the ping fails, like Portainer.
    let plain = multipart(&[("Name", "agent-2"), ("EndpointCreationType", "2"), ("URL", "tcp://10.0.0.6:9001")]);
    let a = c.call(Method::POST, "/api/endpoints", Auth::Key(&key), plain).await;
    assert_eq!((a.status, a.message().0.as_str()), (500, "Unable to get environment type"));
    assert!(a.message().1.contains("x509"), "{}", a.text);
    s.edit(|st| st.unreachable_agents.insert("tcp://10.0.0.7:9001".into())).unwrap();
    let a = c.create_agent(&key, "agent-3", "tcp://10.0.0.7:9001").await;
    assert!(a.message().1.contains("connection refused"), "{}", a.text);

    // Without `tcp://` the ping still works (Portainer prepends `//`), but the stored URL is
    // useless to the Docker SDK: the first stack on it fails.
    let bare = c.create_agent(&key, "agent-bare", "10.0.0.8:9001").await;
    assert_eq!((bare.status, bare.json()["URL"].as_str()), (200, Some("10.0.0.8:9001")));
    let id = bare.json()["Id"].as_u64().unwrap();
    let a = c.create_stack(&key, id, "web", COMPOSE).await;
    assert_eq!((a.status, a.message().1.as_str()), (500, "Unable to parse docker host `10.0.0.8:9001`"));
    assert_eq!(c.call(Method::DELETE, &format!("/api/endpoints/{id}"), Auth::Key(&key), Body::Empty).await.status, 204);

    // FormValue also reads urlencoded bodies.
    let urlenc = Body::Raw("application/x-www-form-urlencoded", b"Name=local&EndpointCreationType=1".to_vec());
    let a = c.call(Method::POST, "/api/endpoints", Auth::Key(&key), urlenc).await;
    assert_eq!((a.status, a.json()["URL"].as_str()), (200, Some("unix:///var/run/docker.sock")));

    let list = c.get("/api/endpoints", Auth::Key(&key)).await;
    assert_eq!(list.json().as_array().unwrap().len(), 2);
    assert_eq!(list.headers["x-total-count"], "2");
    let filtered = c.get("/api/endpoints?name=agent-1", Auth::Key(&key)).await;
    assert_eq!(filtered.json().as_array().unwrap().len(), 1);

    let upd = json!({"Name": "agent-renamed", "URL": "tcp://10.0.0.9:9001"});
    let a = c.call(Method::PUT, "/api/endpoints/1", Auth::Key(&key), Body::Json(upd)).await;
    assert_eq!(
        (a.status, a.json()["Name"].as_str(), a.json()["URL"].as_str()),
        (200, Some("agent-renamed"), Some("tcp://10.0.0.9:9001"))
    );
    assert_eq!(c.get("/api/endpoints/1", Auth::Key(&key)).await.json()["Name"], "agent-renamed");
    let clash = json!({"Name": "local"});
    assert_eq!(c.call(Method::PUT, "/api/endpoints/1", Auth::Key(&key), Body::Json(clash)).await.status, 409);

    assert_eq!(c.call(Method::DELETE, "/api/endpoints/1", Auth::Key(&key), Body::Empty).await.status, 204);
    let gone = c.get("/api/endpoints/1", Auth::Key(&key)).await;
    assert_eq!(
        (gone.status, gone.message().0.as_str()),
        (404, "Unable to find an environment with the specified identifier inside the database")
    );
    let bad_id = c.get("/api/endpoints/abc", Auth::Key(&key)).await;
    assert_eq!((bad_id.status, bad_id.message().1.as_str()), (400, "Strconv.Atoi: parsing \"abc\": invalid syntax"));
}

#[tokio::test]
async fn stacks_create_list_file_update_delete() {
    let s = sim();
    let c = Client::new(&s);
    let (_, key) = c.bootstrap().await;
    assert_eq!(c.create_agent(&key, "agent-1", "tcp://10.0.0.5:9001").await.status, 200);

    let created = c.create_stack(&key, 1, "Web App", COMPOSE).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let st = created.json();
    assert_eq!(
        (st["Id"].as_u64(), st["Name"].as_str(), st["Type"].as_u64(), st["EndpointId"].as_u64()),
        (Some(1), Some("webapp"), Some(2), Some(1))
    );
    assert_eq!(st["Env"], json!([{"name": "TOKEN", "value": "abc"}]));
    assert_eq!(st["CreatedBy"], "admin");

    let dup = c.create_stack(&key, 1, "webapp", COMPOSE).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.message().0, "A stack with the normalized name 'webapp' already exists");

    let body = json!({"name": "x", "stackFileContent": COMPOSE});
    let a =
        c.call(Method::POST, "/api/stacks/create/standalone/string", Auth::Key(&key), Body::Json(body.clone())).await;
    assert_eq!(
        (a.status, a.message()),
        (400, ("Invalid query parameter: endpointId".into(), "Missing query parameter".into()))
    );
    let a = c
        .call(Method::POST, "/api/stacks/create/standalone/string?endpointId=9", Auth::Key(&key), Body::Json(body))
        .await;
    assert_eq!(a.status, 404);
    let empty = json!({"name": "x", "stackFileContent": ""});
    let a = c
        .call(Method::POST, "/api/stacks/create/standalone/string?endpointId=1", Auth::Key(&key), Body::Json(empty))
        .await;
    assert_eq!((a.status, a.message().1.as_str()), (400, "Invalid stack file content"));

    assert_eq!(c.get("/api/stacks", Auth::Key(&key)).await.json().as_array().unwrap().len(), 1);
    let filtered = c.get("/api/stacks?filters=%7B%22EndpointID%22%3A2%7D", Auth::Key(&key)).await;
    assert_eq!(filtered.json().as_array().unwrap().len(), 0);
    assert_eq!(c.get("/api/stacks/1", Auth::Key(&key)).await.json()["Name"], "webapp");
    assert_eq!(c.get("/api/stacks/1/file", Auth::Key(&key)).await.json(), json!({"StackFileContent": COMPOSE}));

    let new = "services:\n  web:\n    image: nginx:1.28\n";
    let upd =
        json!({"stackFileContent": new, "env": [{"name": "TOKEN", "value": "xyz"}], "prune": true, "pullImage": true});
    let a = c.call(Method::PUT, "/api/stacks/1?endpointId=1", Auth::Key(&key), Body::Json(upd)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["Env"], json!([{"name": "TOKEN", "value": "xyz"}]));
    assert_eq!(a.json()["UpdatedBy"], "admin");
    assert_eq!(c.get("/api/stacks/1/file", Auth::Key(&key)).await.json()["StackFileContent"], new);
    let blank = json!({"stackFileContent": ""});
    assert_eq!(c.call(Method::PUT, "/api/stacks/1?endpointId=1", Auth::Key(&key), Body::Json(blank)).await.status, 400);
    let missing = json!({"stackFileContent": new});
    let a = c.call(Method::PUT, "/api/stacks/7?endpointId=1", Auth::Key(&key), Body::Json(missing)).await;
    assert_eq!(
        (a.status, a.message().0.as_str()),
        (404, "Unable to find a stack with the specified identifier inside the database")
    );

    assert_eq!(c.call(Method::DELETE, "/api/stacks/1?endpointId=1", Auth::Key(&key), Body::Empty).await.status, 204);
    assert_eq!(c.get("/api/stacks/1", Auth::Key(&key)).await.status, 404);
    assert_eq!(c.create_stack(&key, 1, "webapp", COMPOSE).await.status, 200, "deleted stack frees its name");
}

#[tokio::test]
async fn ui_edits_and_data_loss() {
    let s = sim();
    let c = Client::new(&s);
    let (_, key) = c.bootstrap().await;
    assert_eq!(c.create_agent(&key, "agent-1", "tcp://10.0.0.5:9001").await.status, 200);
    assert_eq!(c.create_stack(&key, 1, "web", COMPOSE).await.status, 200);

    let edited = "services:\n  web:\n    image: nginx:edited-in-ui\n";
    s.edit(|st| st.ui_set_stack_file("web", edited)).unwrap().unwrap();
    assert_eq!(c.get("/api/stacks/1/file", Auth::Key(&key)).await.json()["StackFileContent"], edited);
    s.edit(|st| st.ui_set_stack_env("web", &[("TOKEN", "changed")])).unwrap().unwrap();
    assert_eq!(c.get("/api/stacks/1", Auth::Key(&key)).await.json()["Env"][0]["value"], "changed");
    assert!(s.edit(|st| st.ui_set_stack_file("nope", "x")).unwrap().is_err());

    let before = c.get("/api/system/status", Auth::None).await.json()["InstanceID"].clone();
    s.lose_data().unwrap();
    assert_ne!(c.get("/api/system/status", Auth::None).await.json()["InstanceID"], before);
    assert_eq!(c.get("/api/users/admin/check", Auth::None).await.status, 404);
    assert_eq!(c.get("/api/stacks", Auth::Key(&key)).await.status, 401, "the old key died with the data");
    let (_, key2) = c.bootstrap().await;
    assert_eq!(c.create_agent(&key2, "agent-1", "tcp://10.0.0.5:9001").await.status, 200);
    // The containers still run on the agent's host: Portainer refuses the name.
    let again = c.create_stack(&key2, 1, "web", COMPOSE).await;
    assert_eq!(again.status, 409, "{}", again.text);

    // "Delete this stack" in the UI removes it from Portainer and from the host: name free again.
    assert_eq!(c.create_stack(&key2, 1, "api", COMPOSE).await.status, 200);
    s.edit(|st| st.ui_delete_stack("api")).unwrap().unwrap();
    assert_eq!(c.get("/api/stacks", Auth::Key(&key2)).await.json(), json!([]));
    assert_eq!(c.create_stack(&key2, 1, "api", COMPOSE).await.status, 200);
}

#[tokio::test]
async fn injected_faults_then_recovery() {
    let s = sim();
    let c = Client::new(&s);
    let (_, key) = c.bootstrap().await;

    s.add_fault(Fault::new(Some("GET"), "/api/endpoints", FaultAction::Status(503), 2));
    let a = c.get("/api/endpoints", Auth::Key(&key)).await;
    assert_eq!((a.status, a.message().0.as_str()), (503, "Simulated fault"));
    assert_eq!(c.get("/api/endpoints", Auth::Key(&key)).await.status, 503);
    assert_eq!(c.get("/api/endpoints", Auth::Key(&key)).await.status, 200, "recovered after 2");

    s.add_fault(Fault::new(None, "/api/stacks*", FaultAction::TooManyRequests, 1));
    let a = c.get("/api/stacks", Auth::Key(&key)).await;
    assert_eq!((a.status, a.headers["retry-after"].to_str().unwrap()), (429, "1"));
    assert_eq!(c.get("/api/stacks", Auth::Key(&key)).await.status, 200);

    s.add_fault(Fault::new(None, "/api/system/status", FaultAction::Delay(Duration::from_millis(300)), 1));
    let t = Instant::now();
    assert_eq!(c.get("/api/system/status", Auth::None).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300), "slow answer: {:?}", t.elapsed());
    let t = Instant::now();
    c.get("/api/system/status", Auth::None).await;
    assert!(t.elapsed() < Duration::from_millis(300), "delay applied once");

    let faulted: Vec<_> = s.requests().into_iter().filter(|r| r.fault).map(|r| r.status).collect();
    assert_eq!(faulted, vec![503, 503, 429, 200]);
}

#[tokio::test]
async fn not_yet_listening_then_accepting() {
    let s = start(PortainerConfig { listen_after: Duration::from_millis(400), ..PortainerConfig::default() }).unwrap();
    let url = format!("{}/api/system/status", s.base_url());
    install_crypto();
    let early = reqwest::get(&url).await;
    assert!(early.as_ref().is_err_and(|e| e.is_connect()), "refused while starting: {early:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn state_persists_across_a_restart_and_secrets_stay_out_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("lab.json");
    let config = PortainerConfig::beside(&base);
    let state_file = dir.path().join("lab.json.portainer.json");
    let journal_file = dir.path().join("lab.json.portainer.jsonl");

    let s = start(config.clone()).unwrap();
    let c = Client::new(&s);
    let (jwt, key) = c.bootstrap().await;
    assert_eq!(c.create_agent(&key, "agent-1", "tcp://10.0.0.5:9001").await.status, 200);
    assert_eq!(c.create_stack(&key, 1, "web", COMPOSE).await.status, 200);
    // A key in the query string must not reach the journal either.
    assert_eq!(c.get(&format!("/api/stacks?x-api-key={}", query_escape(&key)), Auth::None).await.status, 200);
    let instance = c.get("/api/system/status", Auth::None).await.json()["InstanceID"].clone();
    s.shutdown();

    let s = start(config).unwrap();
    let c = Client::new(&s);
    assert_eq!(c.get("/api/users/admin/check", Auth::None).await.status, 204);
    assert_eq!(c.get("/api/system/status", Auth::None).await.json()["InstanceID"], instance);
    assert_eq!(c.get("/api/stacks/1/file", Auth::Key(&key)).await.json()["StackFileContent"], COMPOSE);
    assert_eq!(c.get("/api/stacks", Auth::Jwt(&jwt)).await.status, 401, "a restart signs JWTs with a new secret");
    assert_eq!(c.init_admin().await.status, 409);
    s.shutdown();

    let state = std::fs::read_to_string(&state_file).unwrap();
    let journal = std::fs::read_to_string(&journal_file).unwrap();
    assert!(state.contains("\"web\"") && journal.contains("/api/stacks/create/standalone/string"));
    for secret in [PASSWORD, key.as_str(), jwt.as_str(), &key[4..]] {
        assert!(!state.contains(secret), "secret in the state file");
        assert!(!journal.contains(secret), "secret in the journal");
    }
    let line: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["method"].as_str(), line["path"].as_str(), line["status"].as_u64()),
        (Some("POST"), Some("/api/users/admin/init"), Some(200))
    );
    assert!(journal.contains("x-api-key=***"));
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let s = sim();
    let c = Client::new(&s);
    let a = c.get("/api/nothing/here", Auth::None).await;
    assert_eq!((a.status, a.text.as_str()), (404, "404 page not found\n"));
    let a = c.call(Method::PATCH, "/api/stacks", Auth::None, Body::Empty).await;
    assert_eq!((a.status, a.text.as_str()), (405, ""));
}

#[tokio::test]
async fn restart_with_downtime_refuses_then_serves_on_the_same_port() {
    let s = sim();
    let c = Client::new(&s);
    let (jwt, key) = c.bootstrap().await;
    let url = format!("{}/api/system/status", s.base_url());
    s.restart_with_downtime(Duration::from_millis(400)).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let during = reqwest::get(&url).await;
    assert!(during.as_ref().is_err_and(|e| e.is_connect()), "refused while restarting: {during:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 200);
    assert_eq!(c.get("/api/stacks", Auth::Key(&key)).await.status, 200, "data kept");
    assert_eq!(c.get("/api/stacks", Auth::Jwt(&jwt)).await.status, 401, "new JWT secret");
}
