//! End-to-end tests: the built `kvs-operator` binary against a real kube-apiserver + etcd
//! (built by `hack/control-plane.sh build`) and kvs-emulator, driven with `kubectl apply`
//! as a user does.

mod accounts;
mod channels;
mod chart;
mod clusters;
#[path = "../common/mod.rs"]
mod common;
mod configurations;
mod crash;
mod import;
mod lifecycle;
mod operations;
mod ownership;
mod policies;
mod proxy;
mod rest;
mod sharding;
mod support;
mod tenancy;
mod validation;
