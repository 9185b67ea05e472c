//! Compute Engine disks through a JSON client with a metadata-server token:
//! insert/get/list/aggregatedList/delete/setLabels/resize, the name and
//! size rules, label filters, pagination, requestId retries, zones.

mod gce_support;
mod support;

use gce_support::{Gce, PROJECT, ZONE_A, ZONE_B, last};
use serde_json::{Value, json};

#[tokio::test]
async fn insert_get_list_delete() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;

    let op = gce
        .post_disk(ZONE_A, json!({"name": "data-1", "sizeGb": "20", "type": "pd-ssd", "labels": {"ballast": "yes"}, "description": "d"}),
        )
        .await
        .ok();
    assert_eq!(op["kind"], "compute#operation");
    assert_eq!(op["operationType"], "insert");
    assert_eq!(last(&op["targetLink"]), "data-1");
    assert_eq!(last(&op["zone"]), ZONE_A);
    assert!(
        op["selfLink"]
            .as_str()
            .unwrap()
            .contains(&format!("/zones/{ZONE_A}/operations/"))
    );
    let op = gce.wait(&op).await;
    assert_eq!(op["status"], "DONE");
    assert_eq!(op["progress"], 100);
    assert!(op["endTime"].is_string());

    let disk = gce.disk(ZONE_A, "data-1").await;
    assert_eq!(disk["kind"], "compute#disk");
    assert_eq!(disk["name"], "data-1");
    assert_eq!(disk["status"], "READY");
    assert_eq!(disk["sizeGb"], "20", "int64 fields are strings");
    assert_eq!(last(&disk["type"]), "pd-ssd");
    assert!(disk["type"].as_str().unwrap().ends_with(&format!(
        "projects/{PROJECT}/zones/{ZONE_A}/diskTypes/pd-ssd"
    )));
    assert_eq!(last(&disk["zone"]), ZONE_A);
    assert_eq!(disk["labels"], json!({"ballast": "yes"}));
    assert_eq!(disk["description"], "d");
    assert!(
        disk["labelFingerprint"]
            .as_str()
            .is_some_and(|f| !f.is_empty())
    );
    assert!(
        disk.get("users").is_none(),
        "no users: the field is absent, as on GCE"
    );
    assert!(disk["id"].as_str().unwrap().parse::<u64>().is_ok());
    // The selfLink can be followed.
    assert_eq!(
        gce.get(disk["selfLink"].as_str().unwrap()).await.ok()["id"],
        disk["id"]
    );
    // The backing file exists, as large as the disk.
    let file = running
        .sim
        .hypervisor
        .backing_file(&format!("gce-{}", disk["id"].as_str().unwrap()));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 20 << 30);

    let list = gce.get(&format!("zones/{ZONE_A}/disks")).await.ok();
    assert_eq!(list["kind"], "compute#diskList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["data-1", "gce-a"],
        "the new disk and gce-a's boot disk"
    );

    let op = gce
        .delete(&format!("zones/{ZONE_A}/disks/data-1"))
        .await
        .ok();
    assert_eq!(op["operationType"], "delete");
    gce.wait(&op).await;
    gce.assert_get_error(&format!("zones/{ZONE_A}/disks/data-1"), 404, "notFound")
        .await;
    assert!(!file.exists(), "deleting the disk removes its backing file");
    gce.delete(&format!("zones/{ZONE_A}/disks/data-1"))
        .await
        .assert_error(404, "notFound");
    let missing = gce.get(&format!("zones/{ZONE_A}/disks/data-1")).await;
    assert_eq!(
        missing.body["error"]["message"],
        format!("The resource 'projects/{PROJECT}/zones/{ZONE_A}/disks/data-1' was not found")
    );
}

#[tokio::test]
async fn name_rule_edge_cases() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    let insert = |name: Value| {
        let gce = &gce;
        async move {
            gce.post_disk(ZONE_A, json!({"name": name, "sizeGb": 10}))
                .await
        }
    };
    let longest = format!("a{}", "b".repeat(62));
    assert_eq!(longest.len(), 63);
    gce.done(insert(json!(longest)).await).await;
    gce.done(insert(json!("x")).await).await;
    gce.done(insert(json!("a-1-b")).await).await;
    for bad in [
        format!("a{}", "b".repeat(63)),
        "Data".into(),
        "data-".into(),
        "1data".into(),
        "da_ta".into(),
        "-a".into(),
        "".into(),
    ] {
        let answer = insert(json!(bad)).await;
        if bad.is_empty() {
            answer.assert_error(400, "required");
        } else {
            answer.assert_error(400, "invalid");
            assert!(
                answer.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("resource.name"),
                "{:#}",
                answer.body
            );
        }
    }
    gce.post_disk(ZONE_A, json!({"sizeGb": 10}))
        .await
        .assert_error(400, "required");
    gce.post_disk(ZONE_A, json!({"name": 5}))
        .await
        .assert_error(400, "badRequest");
}

#[tokio::test]
async fn sizes_types_and_body_rules() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    let path = format!("zones/{ZONE_A}/disks");
    let insert = |body: Value| {
        let (gce, path) = (&gce, &path);
        async move { gce.post(path, body).await }
    };

    // Per-type minimums.
    for (disk_type, minimum) in [("pd-standard", 10), ("pd-balanced", 10), ("pd-ssd", 10)] {
        insert(
            json!({"name": format!("{disk_type}-small"), "type": disk_type, "sizeGb": minimum - 1}),
        )
        .await
        .assert_error(400, "invalid");
        let disk = gce
            .insert_disk(
                ZONE_A,
                json!({"name": format!("{disk_type}-ok"), "type": disk_type, "sizeGb": minimum}),
            )
            .await;
        assert_eq!(disk["sizeGb"], minimum.to_string());
        assert_eq!(last(&disk["type"]), disk_type);
    }
    insert(
        json!({"name": "x-small", "type": "pd-extreme", "sizeGb": 499, "provisionedIops": 3000}),
    )
    .await
    .assert_error(400, "invalid");
    insert(json!({"name": "x-noiops", "type": "pd-extreme", "sizeGb": 500}))
        .await
        .assert_error(400, "required");
    insert(
        json!({"name": "x-lowiops", "type": "pd-extreme", "sizeGb": 500, "provisionedIops": 100}),
    )
    .await
    .assert_error(400, "invalid");
    let extreme = gce
        .insert_disk(ZONE_A, json!({"name": "x-ok", "type": "pd-extreme", "sizeGb": "500", "provisionedIops": "3000"}))
        .await;
    assert_eq!(extreme["provisionedIops"], "3000");
    insert(json!({"name": "ssd-iops", "type": "pd-ssd", "sizeGb": 10, "provisionedIops": 3000}))
        .await
        .assert_error(400, "invalid");

    // Types: short name, full URL, partial URL; unknown types are refused.
    let url = format!("{}/zones/{ZONE_A}/diskTypes/pd-balanced", gce.base);
    assert_eq!(
        last(
            &gce.insert_disk(ZONE_A, json!({"name": "by-url", "type": url, "sizeGb": 10}))
                .await["type"]
        ),
        "pd-balanced"
    );
    let partial = format!("projects/{PROJECT}/zones/{ZONE_A}/diskTypes/pd-ssd");
    assert_eq!(
        last(
            &gce.insert_disk(
                ZONE_A,
                json!({"name": "by-partial", "type": partial, "sizeGb": 10})
            )
            .await["type"]
        ),
        "pd-ssd"
    );
    insert(json!({"name": "bad-type", "type": "pd-foo", "sizeGb": 10}))
        .await
        .assert_error(400, "invalid");
    insert(json!({"name": "other-project", "type": format!("projects/other/zones/{ZONE_A}/diskTypes/pd-ssd")}))
        .await
        .assert_error(400, "invalid");

    // Defaults: pd-standard, 500 GB.
    let default = gce.insert_disk(ZONE_A, json!({"name": "defaults"})).await;
    assert_eq!(last(&default["type"]), "pd-standard");
    assert_eq!(default["sizeGb"], "500");

    // Upper bound, malformed sizes, unknown fields (a misspelling), bad JSON.
    insert(json!({"name": "huge", "sizeGb": 65537}))
        .await
        .assert_error(400, "invalid");
    insert(json!({"name": "neg", "sizeGb": -1}))
        .await
        .assert_error(400, "badRequest");
    insert(json!({"name": "text", "sizeGb": "ten"}))
        .await
        .assert_error(400, "badRequest");
    let misspelt = insert(json!({"name": "typo", "sizeGB": 10})).await;
    misspelt.assert_error(400, "badRequest");
    assert!(
        misspelt.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sizeGB")
    );
    let raw = gce
        .http
        .post(gce.url(&path))
        .bearer_auth(&gce.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    insert(json!({"name": "image", "sourceImage": "projects/debian-cloud/global/images/family/debian-12"}))
        .await
        .assert_error(400, "invalid");
    // Labels must follow GCE's rules.
    for labels in [
        json!({"Team": "a"}),
        json!({"team": "A"}),
        json!({"1team": "a"}),
        json!({"team": "a".repeat(64)}),
    ] {
        insert(json!({"name": "labelled", "labels": labels}))
            .await
            .assert_error(400, "invalid");
    }
}

#[tokio::test]
async fn duplicate_names_conflict_within_a_zone_only() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    gce.insert_disk(ZONE_A, json!({"name": "dup", "sizeGb": 10}))
        .await;
    let again = gce
        .post_disk(ZONE_A, json!({"name": "dup", "sizeGb": 10}))
        .await;
    again.assert_error(409, "alreadyExists");
    assert_eq!(
        again.body["error"]["message"],
        format!("The resource 'projects/{PROJECT}/zones/{ZONE_A}/disks/dup' already exists")
    );
    // The boot disk's name is taken too.
    gce.post_disk(ZONE_A, json!({"name": "gce-a"}))
        .await
        .assert_error(409, "alreadyExists");
    // Disks are zonal: the same name in another zone is another disk.
    gce.insert_disk(ZONE_B, json!({"name": "dup", "sizeGb": 10}))
        .await;
}

#[tokio::test]
async fn label_filters_and_pagination() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    for (name, team) in [
        ("a1", "a"),
        ("a2", "a"),
        ("b1", "b"),
        ("b2", "b"),
        ("b3", "b"),
    ] {
        gce.insert_disk(
            ZONE_A,
            json!({"name": name, "sizeGb": 10, "labels": {"team": team, "ballast": "1"}}),
        )
        .await;
    }
    let names = |list: &Value| -> Vec<String> {
        list["items"].as_array().map_or(vec![], |items| {
            items
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect()
        })
    };
    let list = |filter: &str| {
        let gce = &gce;
        let filter = filter.to_string();
        async move {
            gce.send_query(
                &format!("zones/{ZONE_A}/disks"),
                &[("filter", filter.as_str())],
            )
            .await
        }
    };
    assert_eq!(names(&list("labels.team=a").await.ok()), ["a1", "a2"]);
    assert_eq!(
        names(&list("labels.team = \"b\"").await.ok()),
        ["b1", "b2", "b3"]
    );
    assert_eq!(names(&list("name = b2").await.ok()), ["b2"]);
    assert_eq!(
        names(&list("(labels.team = b) (name != b2)").await.ok()),
        ["b1", "b3"]
    );
    assert_eq!(
        names(&list("labels.ballast:*").await.ok()).len(),
        5,
        "the boot disk has no ballast label"
    );
    assert_eq!(
        names(&list("labels.team = b AND name = a1").await.ok()),
        Vec::<String>::new()
    );
    let none = list("labels.team = c").await.ok();
    assert!(
        none.get("items").is_none(),
        "an empty list has no items field: {none:#}"
    );
    list("labels.team ~ a").await.assert_error(400, "invalid");
    list("size = 10").await.assert_error(400, "invalid");

    // Pages of two until there is no nextPageToken.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let mut query = vec![("maxResults", "2"), ("filter", "labels.ballast=1")];
        if !token.is_empty() {
            query.push(("pageToken", token.as_str()));
        }
        let page = gce
            .send_query(&format!("zones/{ZONE_A}/disks"), &query)
            .await
            .ok();
        let items = names(&page);
        assert!(items.len() <= 2);
        seen.extend(items);
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["a1", "a2", "b1", "b2", "b3"]);
    gce.send_query(&format!("zones/{ZONE_A}/disks"), &[("maxResults", "501")])
        .await
        .assert_error(400, "invalid");
    gce.send_query(&format!("zones/{ZONE_A}/disks"), &[("pageToken", "zz")])
        .await
        .assert_error(400, "invalid");

    // aggregatedList groups every zone's disks.
    gce.insert_disk(
        ZONE_B,
        json!({"name": "elsewhere", "sizeGb": 10, "labels": {"team": "a"}}),
    )
    .await;
    let all = gce
        .send_query("aggregated/disks", &[("filter", "labels.team=a")])
        .await
        .ok();
    assert_eq!(all["kind"], "compute#diskAggregatedList");
    assert_eq!(
        names(&json!({"items": all["items"][format!("zones/{ZONE_A}")]["disks"]})),
        ["a1", "a2"]
    );
    assert_eq!(
        names(&json!({"items": all["items"][format!("zones/{ZONE_B}")]["disks"]})),
        ["elsewhere"]
    );
    assert_eq!(
        all["items"]["zones/us-central1-c"]["warning"]["code"],
        "NO_RESULTS_ON_PAGE"
    );
}

#[tokio::test]
async fn set_labels_needs_the_current_fingerprint() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    let disk = gce
        .insert_disk(
            ZONE_A,
            json!({"name": "tagged", "sizeGb": 10, "labels": {"a": "1"}}),
        )
        .await;
    let path = format!("zones/{ZONE_A}/disks/tagged/setLabels");
    let first = disk["labelFingerprint"].as_str().unwrap().to_string();

    gce.assert_post_error(
        &path,
        json!({"labels": {"b": "2"}, "labelFingerprint": "bm90LWl0"}),
        412,
        "conditionNotMet",
    )
    .await;
    gce.assert_post_error(&path, json!({"labels": {"b": "2"}}), 412, "conditionNotMet")
        .await;
    gce.assert_post_error(
        &path,
        json!({"labels": {"B": "2"}, "labelFingerprint": first}),
        400,
        "invalid",
    )
    .await;

    let op = gce
        .done(
            gce.post(
                &path,
                json!({"labels": {"b": "2"}, "labelFingerprint": first}),
            )
            .await,
        )
        .await;
    assert_eq!(op["operationType"], "setLabels");
    let disk = gce.disk(ZONE_A, "tagged").await;
    assert_eq!(disk["labels"], json!({"b": "2"}));
    assert_ne!(disk["labelFingerprint"], first);
    // The old fingerprint is stale now.
    gce.assert_post_error(
        &path,
        json!({"labels": {}, "labelFingerprint": first}),
        412,
        "conditionNotMet",
    )
    .await;
    // Clearing the labels removes the field.
    gce.done(
        gce.post(
            &path,
            json!({"labels": {}, "labelFingerprint": disk["labelFingerprint"]}),
        )
        .await,
    )
    .await;
    assert!(gce.disk(ZONE_A, "tagged").await.get("labels").is_none());
    gce.assert_post_error(
        &format!("zones/{ZONE_A}/disks/missing/setLabels"),
        json!({"labels": {}, "labelFingerprint": first}),
        404,
        "notFound",
    )
    .await;
}

#[tokio::test]
async fn resize_only_grows() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    let disk = gce
        .insert_disk(ZONE_A, json!({"name": "growing", "sizeGb": 10}))
        .await;
    let path = format!("zones/{ZONE_A}/disks/growing/resize");
    // Not larger, above the largest disk, no size at all.
    for (body, reason) in [
        (json!({"sizeGb": "10"}), "invalid"),
        (json!({"sizeGb": "5"}), "invalid"),
        (json!({"sizeGb": "70000"}), "invalid"),
        (json!({}), "required"),
    ] {
        gce.assert_post_error(&path, body, 400, reason).await;
    }
    let op = gce
        .done(gce.post(&path, json!({"sizeGb": "30"})).await)
        .await;
    assert_eq!(op["operationType"], "resize");
    assert_eq!(gce.disk(ZONE_A, "growing").await["sizeGb"], "30");
    let file = gce_support::backing_file(&running, &disk);
    assert_eq!(std::fs::metadata(file).unwrap().len(), 30 << 30);
    gce.assert_post_error(
        &format!("zones/{ZONE_A}/disks/missing/resize"),
        json!({"sizeGb": "30"}),
        404,
        "notFound",
    )
    .await;
}

#[tokio::test]
async fn zones_and_projects() {
    let (_dir, running, gce) = gce_support::start(|_| {}).await;
    // us-central1-c is a zone without instances; us-east1-b is unknown.
    gce.insert_disk("us-central1-c", json!({"name": "c", "sizeGb": 10}))
        .await;
    let unknown = gce.get("zones/us-east1-b/disks").await;
    unknown.assert_error(400, "invalid");
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown zone")
    );
    gce.assert_post_error(
        "zones/us-east1-b/disks",
        json!({"name": "x"}),
        400,
        "invalid",
    )
    .await;
    // Another project does not exist; the project's number is the project.
    let other = Gce {
        base: gce.base.replace(PROJECT, "someone-else"),
        ..Gce::with_token(&running, &gce.token)
    };
    other
        .get(&format!("zones/{ZONE_A}/disks"))
        .await
        .assert_error(404, "notFound");
    let number = cloudsim::metadata::numeric_id(PROJECT).to_string();
    let numeric = Gce {
        base: gce.base.replace(PROJECT, &number),
        ..Gce::with_token(&running, &gce.token)
    };
    let disk = numeric.disk("us-central1-c", "c").await;
    assert!(
        disk["selfLink"]
            .as_str()
            .unwrap()
            .contains(&format!("projects/{PROJECT}/")),
        "links use the project id"
    );
    // Unknown paths answer GCE's 404.
    gce.assert_get_error("zones/us-central1-a/widgets", 404, "notFound")
        .await;
}

#[tokio::test]
async fn request_id_makes_retries_safe() {
    let (_dir, _running, gce) = gce_support::start(|_| {}).await;
    let path = format!("zones/{ZONE_A}/disks?requestId=6f1c6d52-7f4b-4e0e-9e47-0d6f3b0ad5a1");
    let first = gce
        .post(&path, json!({"name": "retried", "sizeGb": 10}))
        .await
        .ok();
    // The retry gets the same operation back instead of 409.
    let again = gce
        .post(&path, json!({"name": "retried", "sizeGb": 10}))
        .await
        .ok();
    assert_eq!(first["name"], again["name"]);
    assert_eq!(
        again["clientOperationId"],
        "6f1c6d52-7f4b-4e0e-9e47-0d6f3b0ad5a1"
    );
    // A requestId must be a non-zero UUID.
    for bad in ["nope", "00000000-0000-0000-0000-000000000000"] {
        let path = format!("zones/{ZONE_A}/disks?requestId={bad}");
        gce.assert_post_error(&path, json!({"name": "x"}), 400, "invalid")
            .await;
    }
}

#[tokio::test]
async fn disks_are_creating_until_the_create_delay_passes() {
    let (_dir, _running, gce) =
        gce_support::start(|c| c.delays.volume_create = std::time::Duration::from_millis(400))
            .await;
    let op = gce
        .post_disk(ZONE_A, json!({"name": "slow", "sizeGb": 10}))
        .await
        .ok();
    assert_eq!(op["status"], "RUNNING");
    assert_eq!(gce.disk(ZONE_A, "slow").await["status"], "CREATING");
    // Its name is taken at once; it cannot be used or deleted yet.
    gce.post_disk(ZONE_A, json!({"name": "slow"}))
        .await
        .assert_error(409, "alreadyExists");
    gce.assert_disk_busy(ZONE_A, "slow").await;
    let op = gce.wait(&op).await;
    assert!(op.get("error").is_none());
    assert_eq!(gce.disk(ZONE_A, "slow").await["status"], "READY");
}
