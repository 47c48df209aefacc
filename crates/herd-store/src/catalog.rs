//! The project catalog (`catalog.redb` in the data directory): projects, their keys and settings.
//!
//! Opening the catalog takes the data directory's lock: while a server runs, the CLI cannot open it and says so.

use std::path::{Path, PathBuf};

use rand::Rng;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{Result, StoreError};
use crate::records::{ProjectRecord, check_format_version, decode, encode};

const PROJECTS: TableDefinition<u64, &[u8]> = TableDefinition::new("projects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Version of the data directory layout (catalog + per-project stores + segments).
pub const DATA_DIR_FORMAT_VERSION: u64 = 1;

/// The catalog of a data directory.
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    db: Database,
}

/// What to create a project with; missing keys are generated.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub api_key: Option<String>,
    pub secret_key: Option<String>,
}

impl Catalog {
    /// Opens (or creates) the catalog of `dir`.
    pub fn open(dir: &Path) -> Result<Catalog> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let path = dir.join("catalog.redb");
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::Locked { dir: dir.to_owned() }),
            Err(e) => return Err(e.into()),
        };
        let txn = db.begin_write()?;
        {
            check_format_version(&mut txn.open_table(META)?, "catalog", DATA_DIR_FORMAT_VERSION)?;
            txn.open_table(PROJECTS)?;
        }
        txn.commit()?;
        Ok(Catalog { dir: dir.to_owned(), db })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All projects, by id.
    pub fn list(&self) -> Result<Vec<ProjectRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROJECTS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, value) = row?;
            out.push(decode("project", value.value())?);
        }
        Ok(out)
    }

    /// Creates a project. Names and keys must be unique across the data directory.
    pub fn create(&self, new: NewProject) -> Result<ProjectRecord> {
        let name = new.name.trim().to_owned();
        if name.is_empty() {
            return Err(StoreError::Conflict("a project needs a non-empty name".into()));
        }
        let api_key = new.api_key.unwrap_or_else(generate_key);
        let secret_key = new.secret_key.unwrap_or_else(generate_key);
        if api_key.is_empty() || secret_key.is_empty() {
            return Err(StoreError::Conflict("keys must not be empty".into()));
        }
        if api_key == secret_key {
            return Err(StoreError::Conflict("the secret key must differ from the API key".into()));
        }
        let txn = self.db.begin_write()?;
        let record = {
            let mut table = txn.open_table(PROJECTS)?;
            for row in table.iter()? {
                let (_, value) = row?;
                let existing: ProjectRecord = decode("project", value.value())?;
                if existing.name == name {
                    return Err(StoreError::Conflict(format!("a project named {name:?} already exists")));
                }
                let keys = [&existing.api_key, &existing.secret_key];
                if keys.contains(&&api_key) || keys.contains(&&secret_key) {
                    return Err(StoreError::Conflict("that key is already used by another project".into()));
                }
            }
            let mut meta = txn.open_table(META)?;
            let id = meta.get("next_project_id")?.map(|v| v.value()).unwrap_or(1);
            meta.insert("next_project_id", id + 1)?;
            let record = ProjectRecord {
                id,
                name,
                api_key,
                secret_key,
                created_at_ms: crate::now_ms(),
                settings: Default::default(),
            };
            table.insert(id, encode(&record).as_slice())?;
            record
        };
        txn.commit()?;
        Ok(record)
    }

    /// Sets (or, with `None`, removes) one project setting.
    pub fn set_setting(&self, project: &str, key: &str, value: Option<&str>) -> Result<ProjectRecord> {
        let txn = self.db.begin_write()?;
        let record = {
            let mut table = txn.open_table(PROJECTS)?;
            let mut found = None;
            for row in table.iter()? {
                let (_, v) = row?;
                let rec: ProjectRecord = decode("project", v.value())?;
                if rec.name == project {
                    found = Some(rec);
                }
            }
            let mut rec = found.ok_or_else(|| StoreError::NoSuchProject(project.to_owned()))?;
            match value {
                Some(v) => rec.settings.insert(key.to_owned(), v.to_owned()),
                None => rec.settings.remove(key),
            };
            table.insert(rec.id, encode(&rec).as_slice())?;
            rec
        };
        txn.commit()?;
        Ok(record)
    }
}

/// A random 32-character hex key, like Amplitude's.
pub fn generate_key() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_list_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(dir.path()).unwrap();
        let p = cat.create(NewProject { name: "web".into(), api_key: Some("k1".into()), secret_key: None }).unwrap();
        assert_eq!(p.id, 1);
        assert_eq!(p.secret_key.len(), 32);
        assert!(cat.create(NewProject { name: "web".into(), ..Default::default() }).is_err());
        assert!(cat.create(NewProject { name: "b".into(), api_key: Some("k1".into()), secret_key: None }).is_err());
        assert_eq!(cat.list().unwrap().len(), 1);
        // A second opener (another process in real life) is refused with a clear error.
        match Catalog::open(dir.path()) {
            Err(StoreError::Locked { .. }) => {}
            other => panic!("expected Locked, got {other:?}"),
        }
        let rec = cat.set_setting("web", "segment.group_type_trait", Some("group_type")).unwrap();
        assert_eq!(rec.settings["segment.group_type_trait"], "group_type");
    }
}
