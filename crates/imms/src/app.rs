//! Opening the store and the components every subcommand shares.

use std::sync::Arc;

use anyhow::Context;
use imms_db::Database;
use imms_registry::store::Store;
use imms_registry::Ingestor;

use crate::config::Config;

pub struct App {
    pub config: Config,
    pub ingestor: Arc<Ingestor>,
}

impl App {
    pub async fn open(config: Config) -> anyhow::Result<App> {
        if config.database_url.starts_with("sqlite:") {
            config.prepare_data_dir()?;
        }
        let db = Database::connect(&config.database_url)
            .await
            .context("opening the database")?;
        let store = Store::new(db);
        let codes = imms_registry::codes::load_from_store(&store)
            .await
            .context("loading the code tables")?;
        let ingestor = Arc::new(Ingestor::new(
            store,
            Arc::new(codes),
            config.registry_id.clone(),
        ));
        Ok(App { config, ingestor })
    }

    pub fn store(&self) -> &Store {
        self.ingestor.store()
    }
}
