//! The views: `view` (filter, sort, page over the live mirror or the
//! session's frozen snapshot), `refresh` and `set_autorefresh`.

use nfctd_table::query::{self, Filter};
use nfctd_table::Snapshot;

use super::{ApiError, Loading, Service, ViewPage, ViewRequest};

impl Service {
    /// `view(sid, filters, order_by, order_dir, start, length)`.
    pub fn view(&self, sid: &str, req: &ViewRequest) -> Result<ViewPage, ApiError> {
        let session = self.session(sid)?;
        self.check_uid_keys(req.filter.keys().chain([req.order.field.name()]))?;
        let filter = Filter::compile(&req.filter)?;
        let max = self.inner.settings.max_page;
        if req.page.length > max {
            return Err(ApiError::invalid(
                "length",
                format!("must be 0..={max}, got {}", req.page.length),
            ));
        }
        let autorefresh = session.frozen.is_none();
        let (live, loading) = self.loading_snapshot();
        let snapshot = match &session.frozen {
            Some(frozen) => frozen.view(),
            None => live,
        };
        let ctx = self.context(&snapshot, autorefresh);
        let (start, length) = (req.page.start, req.page.length);
        let page = if autorefresh {
            // Live sessions share the live snapshot: and often the question.
            let pages = &self.inner.pages;
            pages.page(
                &snapshot,
                &req.filter,
                &filter,
                &req.order,
                start,
                length,
                &ctx,
            )
        } else {
            query::run(&snapshot, &filter, &req.order, start, length, &ctx)
        };
        if autorefresh {
            // Keep the served rows' rates live (the mirror looks them up).
            self.inner
                .table
                .watch(page.rows.iter().map(nfctd_table::Row::key).collect());
        }
        Ok(ViewPage {
            total: page.total,
            start: req.page.start,
            table_size: snapshot.len(),
            loading,
            autorefresh,
            snapshot: snapshot.taken,
            connections: page
                .rows
                .iter()
                .map(|row| query::render(row, &ctx))
                .collect(),
        })
    }

    /// The live snapshot and, while the first dump runs, how far it got.
    /// Progress is read first: an answer without it therefore never holds a
    /// partial table (the mirror publishes the whole table before it stops
    /// loading), and is read again after, so it counts the rows served.
    pub(super) fn loading_snapshot(&self) -> (Snapshot, Option<Loading>) {
        let table = &self.inner.table;
        let before = table.loading();
        let snapshot = table.snapshot();
        let loading = before.map(|before| {
            let now = table.loading().unwrap_or(before);
            let loaded = now.loaded.max(snapshot.len() as u64);
            Loading {
                loaded,
                expected: now.expected.max(loaded),
            }
        });
        (snapshot, loading)
    }

    /// `refresh(sid)`: a full reconciliation with the kernel; with autorefresh
    /// off, the session then pages through a new snapshot.
    pub fn refresh(&self, sid: &str) -> Result<(), ApiError> {
        let session = self.session(sid)?;
        self.inner.table.resync()?;
        if session.frozen.is_some() {
            self.inner
                .sessions
                .freeze(sid, self.inner.table.snapshot())?;
        }
        Ok(())
    }

    /// `set_autorefresh(sid, on)`: off freezes the session on the current snapshot.
    pub fn set_autorefresh(&self, sid: &str, on: bool) -> Result<(), ApiError> {
        self.session(sid)?;
        if on {
            self.inner.sessions.thaw(sid)
        } else {
            self.inner.sessions.freeze(sid, self.inner.table.snapshot())
        }
    }
}
