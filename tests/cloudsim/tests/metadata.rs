//! Instance metadata per simulated instance: AWS IMDSv2 through aws-config's
//! own IMDS client (token flow, instance-id, placement, instance type, role
//! credentials) and the refusals around it; the GCE metadata server with
//! and without `Metadata-Flavor: Google`, and the token it issues being
//! the one the Compute API accepts; a killed instance stops answering.

mod gce_support;
mod support;

use aws_config::imds;
use aws_credential_types::provider::ProvideCredentials;
use gce_support::{Gce, ZONE_A, kill};
use reqwest::StatusCode;
use serde_json::Value;

fn imds_client(running: &cloudsim::Running, instance: &str) -> imds::Client {
    imds::Client::builder()
        .endpoint(running.instance(instance).metadata_url)
        .unwrap()
        .max_attempts(1)
        .build()
}

#[tokio::test]
async fn imds_v2_through_the_aws_sdk_client() {
    let (_dir, running) = support::sim(|_| {}).await;
    let client = imds_client(&running, "i-a");
    let get = |path: &'static str| {
        let client = client.clone();
        async move { client.get(path).await.unwrap().as_ref().to_string() }
    };
    assert_eq!(get("/latest/meta-data/instance-id").await, "i-a");
    assert_eq!(
        get("/latest/meta-data/placement/availability-zone").await,
        "us-east-1a"
    );
    assert_eq!(get("/latest/meta-data/placement/region").await, "us-east-1");
    assert_eq!(get("/latest/meta-data/instance-type").await, "m5.large");
    let role = get("/latest/meta-data/iam/security-credentials/").await;
    assert_eq!(role, cloudsim::metadata::AWS_ROLE);
    let credentials: Value = serde_json::from_str(
        &get("/latest/meta-data/iam/security-credentials/ballast-sim-role").await,
    )
    .unwrap();
    assert_eq!(credentials["Code"], "Success");
    assert!(
        credentials["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );

    // Each instance answers for itself.
    let other = imds_client(&running, "i-c");
    assert_eq!(
        other
            .get("/latest/meta-data/placement/availability-zone")
            .await
            .unwrap()
            .as_ref(),
        "us-east-1b"
    );
    assert_eq!(
        imds_client(&running, "i-b")
            .get("/latest/meta-data/instance-type")
            .await
            .unwrap()
            .as_ref(),
        "t2.micro"
    );

    // The SDK's region and credential providers work against it.
    let region = imds::region::ImdsRegionProvider::builder()
        .imds_client(client.clone())
        .build()
        .region()
        .await;
    assert_eq!(region.unwrap().as_ref(), "us-east-1");
    let provider = imds::credentials::ImdsCredentialsProvider::builder()
        .imds_client(client)
        .build();
    let credentials = provider.provide_credentials().await.unwrap();
    assert_eq!(credentials.access_key_id(), "ASIASIMULATED0000001");
    assert_eq!(credentials.session_token(), Some("simulated-session-token"));
}

#[tokio::test]
async fn imds_v2_refuses_requests_without_a_valid_token() {
    let (_dir, running) = support::sim(|_| {}).await;
    let http = reqwest::Client::new();
    let url = running.instance("i-a").metadata_url;
    let instance_id = format!("{url}/latest/meta-data/instance-id");
    // IMDSv1 (no token) and made-up tokens: 401.
    assert_eq!(
        http.get(&instance_id).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let forged = http
        .get(&instance_id)
        .header("x-aws-ec2-metadata-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // The token PUT needs a TTL within 1..=21600 and no X-Forwarded-For.
    let token_url = format!("{url}/latest/api/token");
    assert_eq!(
        http.put(&token_url).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    for ttl in ["0", "21601", "x"] {
        let answer = http
            .put(&token_url)
            .header("x-aws-ec2-metadata-token-ttl-seconds", ttl)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "ttl {ttl}");
    }
    let proxied = http
        .put(&token_url)
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        http.get(&token_url).send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );

    let issued = http
        .put(&token_url)
        .header("x-aws-ec2-metadata-token-ttl-seconds", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        issued.headers()["x-aws-ec2-metadata-token-ttl-seconds"],
        "1"
    );
    let token = issued.text().await.unwrap();
    let with = |url: String, token: String| {
        let http = http.clone();
        async move {
            http.get(url)
                .header("x-aws-ec2-metadata-token", token)
                .send()
                .await
                .unwrap()
        }
    };
    let answer = with(instance_id.clone(), token.clone()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.text().await.unwrap(), "i-a");
    // A token is good at the server that issued it only.
    let elsewhere = format!(
        "{}/latest/meta-data/instance-id",
        running.instance("i-b").metadata_url
    );
    assert_eq!(
        with(elsewhere, token.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with(format!("{url}/latest/meta-data/nope"), token.clone())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // ...and until its TTL runs out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        with(instance_id, token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn each_metadata_server_speaks_for_its_own_provider() {
    let (_dir, running) = support::sim(|_| {}).await;
    let http = reqwest::Client::new();
    // IMDS on a GCE instance, GCE metadata on an AWS instance: 404.
    let gce_url = running.instance("gce-a").metadata_url;
    let put = http
        .put(format!("{gce_url}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60");
    assert_eq!(put.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let aws_url = running.instance("i-a").metadata_url;
    let get = http
        .get(format!("{aws_url}/computeMetadata/v1/instance/id"))
        .header("Metadata-Flavor", "Google");
    assert_eq!(get.send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

async fn gce_metadata(
    running: &cloudsim::Running,
    instance: &str,
    path: &str,
) -> reqwest::Response {
    let url = format!(
        "{}/computeMetadata/v1/{path}",
        running.instance(instance).metadata_url
    );
    reqwest::Client::new()
        .get(url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap()
}

async fn text(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["metadata-flavor"], "Google");
    response.text().await.unwrap()
}

#[tokio::test]
async fn gce_metadata_needs_the_flavor_header() {
    let (_dir, running) = support::sim(|_| {}).await;
    let url = running.instance("gce-a").metadata_url;
    let http = reqwest::Client::new();
    let bare = http
        .get(format!("{url}/computeMetadata/v1/instance/id"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    let wrong = http
        .get(format!("{url}/computeMetadata/v1/instance/id"))
        .header("Metadata-Flavor", "Amazon");
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let proxied = http
        .get(format!("{url}/computeMetadata/v1/instance/id"))
        .header("Metadata-Flavor", "Google")
        .header("X-Forwarded-For", "10.0.0.1");
    assert_eq!(
        proxied.send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    let number = cloudsim::metadata::numeric_id("ballast-sim");
    let id = text(gce_metadata(&running, "gce-a", "instance/id").await).await;
    assert!(id.parse::<u64>().is_ok(), "{id}");
    assert_ne!(
        id,
        text(gce_metadata(&running, "gce-b", "instance/id").await).await
    );
    assert_eq!(
        text(gce_metadata(&running, "gce-a", "instance/name").await).await,
        "gce-a"
    );
    assert_eq!(
        text(gce_metadata(&running, "gce-a", "instance/zone").await).await,
        format!("projects/{number}/zones/us-central1-a")
    );
    assert_eq!(
        text(gce_metadata(&running, "gce-b", "instance/zone").await).await,
        format!("projects/{number}/zones/us-central1-b")
    );
    assert_eq!(
        text(gce_metadata(&running, "gce-a", "project/project-id").await).await,
        "ballast-sim"
    );
    assert_eq!(
        text(gce_metadata(&running, "gce-a", "project/numeric-project-id").await).await,
        number.to_string()
    );
    let email =
        text(gce_metadata(&running, "gce-a", "instance/service-accounts/default/email").await)
            .await;
    assert!(
        email.ends_with("-compute@developer.gserviceaccount.com"),
        "{email}"
    );
    assert_eq!(
        gce_metadata(&running, "gce-a", "instance/nope")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Client libraries detect GCE by the answer's header at `/`.
    let root = http
        .get(format!("{url}/"))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(root.headers()["metadata-flavor"], "Google");

    let token = gce_metadata(&running, "gce-a", "instance/service-accounts/default/token").await;
    assert_eq!(token.headers()["content-type"], "application/json");
    let token: Value = token.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].as_u64().unwrap() > 0);
    // The account may also be named by its email.
    let by_email = gce_metadata(
        &running,
        "gce-a",
        &format!("instance/service-accounts/{email}/token"),
    )
    .await;
    assert_eq!(by_email.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_metadata_token_is_what_the_compute_api_accepts() {
    let (_dir, running) = support::sim(|_| {}).await;
    let token = gce_support::metadata_token(&running, "gce-a").await;
    let gce = Gce::with_token(&running, &token);
    let instance = gce.instance(ZONE_A, "gce-a").await;
    assert_eq!(
        instance["id"],
        text(gce_metadata(&running, "gce-a", "instance/id").await).await
    );
    Gce::with_token(&running, "ya29.made-up")
        .get(&format!("zones/{ZONE_A}/instances/gce-a"))
        .await
        .assert_error(401, "authError");
    Gce::with_token(&running, "")
        .get(&format!("zones/{ZONE_A}/instances/gce-a"))
        .await
        .assert_error(401, "authError");
}

#[tokio::test]
async fn a_killed_instance_stops_answering() {
    let (_dir, running) = support::sim(|_| {}).await;
    let http = reqwest::Client::new();
    let aws_url = running.instance("i-a").metadata_url;
    let token = http
        .put(format!("{aws_url}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "600")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gce_token = gce_support::metadata_token(&running, "gce-a").await;

    kill(&running, "i-a").await;
    kill(&running, "gce-a").await;
    let put = http
        .put(format!("{aws_url}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60");
    assert_eq!(
        put.send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let get = http
        .get(format!("{aws_url}/latest/meta-data/instance-id"))
        .header("x-aws-ec2-metadata-token", &token);
    assert_eq!(
        get.send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(
        imds_client(&running, "i-a")
            .get("/latest/meta-data/instance-id")
            .await
            .is_err()
    );
    for path in ["instance/id", "instance/service-accounts/default/token"] {
        assert_eq!(
            gce_metadata(&running, "gce-a", path).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    // The others still answer.
    assert_eq!(
        imds_client(&running, "i-b")
            .get("/latest/meta-data/instance-id")
            .await
            .unwrap()
            .as_ref(),
        "i-b"
    );
    assert_eq!(
        text(gce_metadata(&running, "gce-b", "instance/name").await).await,
        "gce-b"
    );
    // A dead node shows as TERMINATED; the token it issued earlier still authenticates.
    let gce = Gce::with_token(&running, &gce_token);
    assert_eq!(gce.instance(ZONE_A, "gce-a").await["status"], "TERMINATED");
    // Killing an unknown instance is a 404.
    let unknown = http
        .post(format!("{}/_sim/instances/nope/kill", running.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn imds_v2_names_the_network_that_ec2_and_efs_use() {
    let (_dir, running) = support::sim(|_| {}).await;
    let get = |instance: &'static str, path: String| {
        let client = imds_client(&running, instance);
        async move {
            let value = client.get(format!("/latest/meta-data/{path}")).await;
            value.unwrap().as_ref().to_string()
        }
    };
    let mac = get("i-c", "mac".into()).await;
    assert_eq!(mac, cloudsim::ids::mac_for_instance("i-c"));
    assert_ne!(mac, get("i-a", "mac".into()).await, "one MAC per instance");
    let macs = get("i-c", "network/interfaces/macs/".into()).await;
    assert_eq!(macs, format!("{mac}/"));
    let interface = format!("network/interfaces/macs/{mac}");
    let subnet = get("i-c", format!("{interface}/subnet-id")).await;
    let vpc = get("i-c", format!("{interface}/vpc-id")).await;
    let groups = get("i-c", format!("{interface}/security-group-ids")).await;

    // EC2 describes the instance in the same subnet, VPC and group.
    let ec2 = support::ec2(&running.api_url).await;
    let described = ec2.describe_instances().instance_ids("i-c").send().await;
    let described = described.unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(instance.subnet_id(), Some(subnet.as_str()));
    assert_eq!(subnet, cloudsim::ids::subnet_for_zone("us-east-1b"));
    assert_eq!(instance.vpc_id(), Some(vpc.as_str()));
    let group_ids: Vec<&str> = instance
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(group_ids, [groups.as_str()]);

    // EFS puts a mount target there with that group, in that VPC.
    let efs = support::efs(&running.api_url).await;
    let fs = efs
        .create_file_system()
        .creation_token("network")
        .send()
        .await
        .unwrap();
    let target = efs
        .create_mount_target()
        .file_system_id(fs.file_system_id())
        .subnet_id(&subnet)
        .security_groups(&groups)
        .send()
        .await
        .unwrap();
    assert_eq!(target.availability_zone_name(), Some("us-east-1b"));
    assert_eq!(target.vpc_id(), Some(vpc.as_str()));

    // Another instance's MAC is not this one's interface.
    let other = cloudsim::ids::mac_for_instance("i-a");
    let client = imds_client(&running, "i-c");
    let foreign = client
        .get(format!(
            "/latest/meta-data/network/interfaces/macs/{other}/subnet-id"
        ))
        .await;
    assert!(foreign.is_err(), "{foreign:?}");
}
