//! A controller's objects by the AWS account and region their status records, kept from
//! its watch, so a drift scan of one account looks at that account's objects only: a scan
//! costs its listing and the objects listed, not every object of every account.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::kind::{Kind, KindStatus};
use super::wake_filter::key_of;
use crate::tenancy::accounts::AccountKey;
use crate::tenancy::arn_scope;

/// Where an object's resource lives: an index into the accounts seen, or `None` while its
/// status records no resource.
type Scope = Option<u32>;

pub struct ScopeIndex<K> {
    /// The accounts seen, each once.
    accounts: Vec<AccountKey>,
    /// Each object (by the hash of its namespace and name), its scope and latest version.
    objects: HashMap<u64, (Scope, Arc<K>)>,
    by_scope: HashMap<Scope, HashSet<u64>>,
}

impl<K> Default for ScopeIndex<K> {
    fn default() -> Self {
        Self {
            accounts: Vec::new(),
            objects: HashMap::new(),
            by_scope: HashMap::new(),
        }
    }
}

impl<K: Kind> ScopeIndex<K> {
    /// Records `object`'s latest version (the watch cache's own copy).
    pub fn put(&mut self, object: Arc<K>) {
        let key = key_of(object.as_ref());
        let scope = self.scope_of(object.as_ref());
        if let Some((before, _)) = self.objects.insert(key, (scope, object))
            && before != scope
            && let Some(keys) = self.by_scope.get_mut(&before)
        {
            keys.remove(&key);
        }
        self.by_scope.entry(scope).or_default().insert(key);
    }

    /// Forgets `object` (deleted, or no longer watched).
    pub fn remove(&mut self, object: &K) {
        let key = key_of(object);
        if let Some((scope, _)) = self.objects.remove(&key)
            && let Some(keys) = self.by_scope.get_mut(&scope)
        {
            keys.remove(&key);
        }
    }

    /// Starts again from `objects`, a complete listing.
    pub fn rebuild(&mut self, objects: impl IntoIterator<Item = Arc<K>>) {
        self.objects.clear();
        self.by_scope.clear();
        for object in objects {
            self.put(object);
        }
    }

    /// The objects whose status records a resource in `account`, and those of `pending`
    /// (keys as [`key_of`] makes them) whose status records none.
    pub fn in_account(&self, account: &AccountKey, pending: &[u64]) -> Vec<Arc<K>> {
        let scope = self
            .accounts
            .iter()
            .position(|known| known == account)
            .map(|index| index as u32);
        let recorded = scope
            .and_then(|scope| self.by_scope.get(&Some(scope)))
            .into_iter()
            .flatten();
        let unrecorded = pending
            .iter()
            .filter(|key| matches!(self.objects.get(*key), Some((None, _))));
        recorded
            .chain(unrecorded)
            .filter_map(|key| self.objects.get(key).map(|(_, object)| object.clone()))
            .collect()
    }

    /// The object of key `key` (as [`key_of`] makes it), if watched.
    pub fn get(&self, key: u64) -> Option<Arc<K>> {
        self.objects.get(&key).map(|(_, object)| object.clone())
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn scope_of(&mut self, object: &K) -> Scope {
        let (account, region) = object
            .status()
            .and_then(KindStatus::arn)
            .and_then(arn_scope)?;
        let known = self
            .accounts
            .iter()
            .position(|key| key.account_id == account && key.region == region);
        let index = known.unwrap_or_else(|| {
            self.accounts.push(AccountKey {
                account_id: account.to_string(),
                region: region.to_string(),
            });
            self.accounts.len() - 1
        });
        Some(index as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoStream, VideoStreamSpec, VideoStreamStatus};
    use crate::engine::wake_filter::key_of_parts;

    fn stream(name: &str, arn: Option<&str>) -> Arc<VideoStream> {
        let mut object = VideoStream::new(name, VideoStreamSpec::default());
        object.metadata.namespace = Some("ns".into());
        object.status = Some(VideoStreamStatus {
            stream_arn: arn.map(str::to_string),
            ..VideoStreamStatus::default()
        });
        Arc::new(object)
    }

    fn account(id: &str) -> AccountKey {
        AccountKey {
            account_id: id.into(),
            region: "eu-west-1".into(),
        }
    }

    fn names(objects: Vec<Arc<VideoStream>>) -> Vec<String> {
        let mut names: Vec<String> = objects
            .iter()
            .map(|o| o.metadata.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        names
    }

    fn pending(name: &str) -> u64 {
        key_of_parts(Some("ns"), Some(name))
    }

    const A: &str = "arn:aws:kinesisvideo:eu-west-1:111111111111:stream/a/1";
    const B: &str = "arn:aws:kinesisvideo:eu-west-1:222222222222:stream/b/1";

    #[test]
    fn a_scan_sees_its_own_account_and_the_creates_it_made() {
        let mut index = ScopeIndex::default();
        index.put(stream("a", Some(A)));
        index.put(stream("b", Some(B)));
        index.put(stream("new", None));
        index.put(stream("refused", None));
        let made_here = [pending("new")];
        assert_eq!(
            names(index.in_account(&account("111111111111"), &made_here)),
            ["a", "new"]
        );
        assert_eq!(
            names(index.in_account(&account("333333333333"), &[])),
            Vec::<String>::new()
        );
        assert_eq!(
            names(index.in_account(&account("222222222222"), &[pending("a")])),
            ["b"],
            "an object whose status records another account is not pending here"
        );
    }

    #[test]
    fn an_object_follows_its_status_and_leaves_when_deleted() {
        let mut index = ScopeIndex::default();
        index.put(stream("a", None));
        index.put(stream("a", Some(B)));
        assert_eq!(
            names(index.in_account(&account("222222222222"), &[pending("a")])),
            ["a"]
        );
        assert!(
            index
                .in_account(&account("111111111111"), &[pending("a")])
                .is_empty()
        );
        index.remove(&stream("a", Some(B)));
        assert!(index.is_empty());
        assert!(
            index
                .in_account(&account("222222222222"), &[pending("a")])
                .is_empty()
        );
        index.put(stream("b", Some(A)));
        index.rebuild([stream("c", Some(A))]);
        assert_eq!(
            names(index.in_account(&account("111111111111"), &[pending("a")])),
            ["c"]
        );
    }
}
