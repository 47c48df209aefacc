//! The store of a whole data directory: the catalog plus every project's store, found by id, name or key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::apply::ApplyOptions;
use crate::catalog::{Catalog, NewProject};
use crate::error::{Result, StoreError};
use crate::project::{FlushOptions, ProjectStore};
use crate::records::ProjectRecord;

/// How the store behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    pub apply: ApplyOptions,
    pub flush: FlushOptions,
}

/// An open data directory.
#[derive(Debug)]
pub struct Store {
    catalog: Catalog,
    options: StoreOptions,
    projects: RwLock<HashMap<u64, Arc<ProjectStore>>>,
}

impl Store {
    /// Opens the data directory and every project in it. Fails with [`StoreError::Locked`] if another process
    /// holds it.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store> {
        let catalog = Catalog::open(dir)?;
        let mut projects = HashMap::new();
        for record in catalog.list()? {
            let id = record.id;
            projects.insert(id, ProjectStore::open(dir, record, options.apply, options.flush)?);
        }
        Ok(Store { catalog, options, projects: RwLock::new(projects) })
    }

    pub fn dir(&self) -> PathBuf {
        self.catalog.dir().to_owned()
    }

    /// Creates a project and opens its store.
    pub fn create_project(&self, new: NewProject) -> Result<ProjectRecord> {
        let record = self.catalog.create(new)?;
        let store = ProjectStore::open(self.catalog.dir(), record.clone(), self.options.apply, self.options.flush)?;
        self.projects.write().expect("projects lock").insert(record.id, store);
        Ok(record)
    }

    /// Sets or removes one project setting.
    pub fn set_setting(&self, project: &str, key: &str, value: Option<&str>) -> Result<ProjectRecord> {
        let record = self.catalog.set_setting(project, key, value)?;
        if let Some(p) = self.projects.read().expect("projects lock").get(&record.id) {
            p.set_record(record.clone());
        }
        Ok(record)
    }

    pub fn projects(&self) -> Vec<ProjectRecord> {
        let mut out: Vec<ProjectRecord> =
            self.projects.read().expect("projects lock").values().map(|p| p.record()).collect();
        out.sort_by_key(|r| r.id);
        out
    }

    /// The project whose ingestion key (API key) is `key`.
    pub fn by_api_key(&self, key: &str) -> Option<Arc<ProjectStore>> {
        self.find(|r| r.api_key == key)
    }

    /// The project whose API key and secret key are both as given (query access).
    pub fn by_keys(&self, api_key: &str, secret_key: &str) -> Option<Arc<ProjectStore>> {
        self.find(|r| r.api_key == api_key && r.secret_key == secret_key)
    }

    pub fn by_name(&self, name: &str) -> Result<Arc<ProjectStore>> {
        self.find(|r| r.name == name).ok_or_else(|| StoreError::NoSuchProject(name.to_owned()))
    }

    /// The first project whose record satisfies `pred`.
    pub fn find(&self, pred: impl Fn(&ProjectRecord) -> bool) -> Option<Arc<ProjectStore>> {
        let projects = self.projects.read().expect("projects lock");
        projects.values().find(|p| pred(&p.record())).cloned()
    }
}
