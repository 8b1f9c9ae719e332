//! A store that keeps the grant in a JSON file, replaced atomically.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretSlice};

use super::{StoreError, StoredToken, TokenStore};

/// Keeps the grant in a JSON file (the form of [`StoredToken::to_json`]).
///
/// **The file is a secret**: it holds the access and refresh tokens in clear. On Unix it
/// is created with mode `0600` (owner read and write only; the process's umask can only
/// take rights away), and it is never readable by others, not even for an instant: every
/// save writes a new file created `0600` in the same directory, syncs it to disk, renames
/// it over the old one and syncs the directory. A crash at any point leaves either the old
/// file or the new one, never part of one; an existing file with wider rights is replaced
/// by a `0600` one on the next save. A crash between writing and renaming can leave a
/// temporary file `.NAME.RANDOM.tmp` beside the real one, itself `0600`; it is never read,
/// and deleting it is safe.
///
/// A missing file means "no grant stored". A file that exists but cannot be read, or does
/// not hold a stored token, is an error ([`StoreError::Read`], [`StoreError::Corrupt`]),
/// never taken for "no grant". [`clear`](TokenStore::clear) deletes the file.
///
/// On other platforms (Windows) no mode is set: the file gets the access rights the
/// directory passes on, so keep it in a directory only its user can read, such as the
/// user's local application data. The replacement is atomic there as well.
///
/// File operations run on tokio's blocking thread pool. Buffers that held the file's text
/// are wiped when dropped, as far as `secrecy` does it; copies the operating system keeps
/// are out of reach.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store in the file at `path`. Nothing is read or created until it is used; the
    /// directory must exist.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Path) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || work(&path))
            .await
            .map_err(StoreError::other)?
    }
}

impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        self.blocking(read).await
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        let json = token.to_json();
        self.blocking(move |path| {
            write_atomically(path, json.expose_secret().as_bytes()).map_err(|source| {
                StoreError::Write {
                    path: path.to_owned(),
                    source: Arc::new(source),
                }
            })
        })
        .await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.blocking(|path| {
            remove(path).map_err(|source| StoreError::Write {
                path: path.to_owned(),
                source: Arc::new(source),
            })
        })
        .await
    }
}

fn read(path: &Path) -> Result<Option<StoredToken>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => SecretSlice::from(bytes),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Read {
                path: path.to_owned(),
                source: Arc::new(source),
            });
        }
    };
    match StoredToken::from_json(bytes.expose_secret()) {
        Ok(token) => Ok(Some(token)),
        Err(StoreError::Corrupt { source, .. }) => Err(StoreError::Corrupt {
            path: Some(path.to_owned()),
            source,
        }),
        Err(other) => Err(other),
    }
}

/// Writes a new file beside `path` and renames it over `path`, syncing both to disk.
fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = temporary_path(path)?;
    let written = write_new_file(&temporary, contents).and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        // The temporary file holds the secret: do not leave it behind.
        let _ = fs::remove_file(&temporary);
    }
    written?;
    sync_directory(path)
}

fn write_new_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_directory(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// `.NAME.RANDOM.tmp` in the directory of `path`, so that the rename stays on one file
/// system and is atomic.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the token file path has no file name",
        )
    })?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".{:016x}.tmp", rand::rng().random::<u64>()));
    Ok(path.with_file_name(temporary))
}

/// Makes a rename or removal in the directory of `path` durable.
#[cfg(unix)]
fn sync_directory(path: &Path) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::File::open(directory)?.sync_all()
}

/// Directories cannot be opened as files on Windows; `rename` there is durable enough.
#[cfg(not(unix))]
fn sync_directory(_path: &Path) -> io::Result<()> {
    Ok(())
}
