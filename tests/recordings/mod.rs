//! The recorded objects of one kind's Argo CD health check
//! (deploy/argocd/resource_customizations/kvs-operator.dev/<Kind>): its testdata and the
//! inputs its health_test.yaml names. Shared by the fixture tests of every kind.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::jiff::Timestamp;

pub struct Recordings {
    /// The customization's folder, relative to the repository.
    pub customization: &'static str,
}

impl Recordings {
    pub const fn of(customization: &'static str) -> Self {
        Recordings { customization }
    }

    pub fn dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(self.customization)
    }

    pub fn testdata(&self) -> PathBuf {
        self.dir().join("testdata")
    }

    /// Every fixture: file stem and text, sorted by stem.
    pub fn fixtures(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::fs::read_dir(self.testdata())
            .expect("the testdata directory exists")
            .map(|entry| entry.expect("readable directory").path())
            .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
            .map(|path| {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&path).expect("readable fixture");
                (stem, text)
            })
            .collect();
        out.sort();
        assert!(
            !out.is_empty(),
            "no fixtures in {}",
            self.testdata().display()
        );
        out
    }

    /// The inputPath of every case in health_test.yaml.
    pub fn health_test_inputs(&self) -> BTreeSet<String> {
        let text = std::fs::read_to_string(self.dir().join("health_test.yaml"))
            .expect("readable health_test.yaml");
        let tests: serde_json::Value = serde_yaml_ng::from_str(&text).expect("health_test.yaml");
        tests["tests"]
            .as_array()
            .expect("tests: a list")
            .iter()
            .map(|case| {
                case["inputPath"]
                    .as_str()
                    .expect("every case has an inputPath")
                    .to_string()
            })
            .collect()
    }

    /// Every case's input exists.
    pub fn assert_every_case_is_a_fixture(&self) {
        for input in self.health_test_inputs() {
            assert!(
                self.dir().join(&input).is_file(),
                "{}/health_test.yaml names {input}, which does not exist",
                self.customization
            );
        }
    }
}

pub fn at(time: &str) -> Timestamp {
    time.parse().expect("RFC 3339 time")
}
