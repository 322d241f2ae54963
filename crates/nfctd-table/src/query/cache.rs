//! `Pages`: the pages of the live snapshot already computed, shared between
//! callers asking the same question of the same snapshot (many clients
//! watching the same view). An answer that involves `timeout` (seconds left,
//! counted at the context's `now`) is kept for that `now` only.

use std::sync::{Arc, Mutex, OnceLock};

use super::{run, Context, Field, Filter, FilterSpec, Order, Page};
use crate::Snapshot;

/// Questions kept per snapshot; the oldest makes room.
const KEPT: usize = 32;

/// What a page answers: the same filter, order and range.
#[derive(Debug, Clone, PartialEq)]
struct Question {
    filter: FilterSpec,
    order: Order,
    start: usize,
    length: usize,
    /// The moment seconds left were counted at, when they matter.
    now: Option<u64>,
}

type Answer = Arc<OnceLock<Page>>;

/// The pages computed over one snapshot.
#[derive(Debug, Default)]
struct Kept {
    /// The snapshot: held, so its chunk list's address cannot be reused meanwhile.
    rows: Option<Snapshot>,
    answers: Vec<(Question, Answer)>,
}

/// A cache of pages for the latest snapshot seen.
#[derive(Debug, Default)]
pub struct Pages {
    kept: Mutex<Kept>,
}

impl Pages {
    /// The page [`run`] gives for this question, computed once per snapshot
    /// however many callers ask at once (the others wait for it).
    #[allow(clippy::too_many_arguments)] // the same arguments as `run`, plus the spec
    pub fn page(
        &self,
        snapshot: &Snapshot,
        spec: &FilterSpec,
        filter: &Filter,
        order: &Order,
        start: usize,
        length: usize,
        ctx: &Context,
    ) -> Page {
        let timed =
            order.field == Field::Timeout || spec.keys().any(|k| k == Field::Timeout.name());
        let question = Question {
            filter: spec.clone(),
            order: *order,
            start,
            length,
            now: timed.then_some(ctx.now),
        };
        let answer = self.answer(snapshot, question);
        answer
            .get_or_init(|| run(snapshot, filter, order, start, length, ctx))
            .clone()
    }

    fn answer(&self, snapshot: &Snapshot, question: Question) -> Answer {
        // A panic while holding the lock leaves a valid (if partial) cache.
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let same = kept
            .rows
            .as_ref()
            .is_some_and(|rows| rows.same_rows(snapshot));
        if !same {
            *kept = Kept {
                rows: Some(snapshot.clone()),
                answers: Vec::new(),
            };
        }
        if let Some((_, answer)) = kept.answers.iter().find(|(q, _)| *q == question) {
            return Arc::clone(answer);
        }
        if kept.answers.len() >= KEPT {
            kept.answers.remove(0);
        }
        let answer = Answer::default();
        kept.answers.push((question, Arc::clone(&answer)));
        answer
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testutil::{snapshot, tcp, NOW, NOW_UNIX};
    use super::*;
    use crate::query::FilterValue;

    #[test]
    fn answers_equal_fresh_runs_and_follow_the_snapshot() {
        let rows = (0..50u32)
            .map(|i| tcp(i, &format!("10.0.0.{}", i % 7), 1000, "10.0.1.1", 80))
            .collect();
        let snap = snapshot(rows);
        let ctx = Context::new(NOW, NOW_UNIX);
        let pages = Pages::default();
        let ids = |p: &Page| p.rows.iter().map(|r| r.id()).collect::<Vec<_>>();
        for (spec, by) in [
            (FilterSpec::none(), "orig_src"),
            (
                [("orig_src", FilterValue::text("10.0.0.3"))]
                    .into_iter()
                    .collect(),
                "id",
            ),
            (FilterSpec::none(), "timeout"),
        ] {
            let filter = Filter::compile(&spec).unwrap();
            let order = Order::parse(by, "DESC").unwrap();
            let fresh = run(&snap, &filter, &order, 3, 10, &ctx);
            for _ in 0..2 {
                let cached = pages.page(&snap, &spec, &filter, &order, 3, 10, &ctx);
                assert_eq!((cached.total, ids(&cached)), (fresh.total, ids(&fresh)));
            }
        }
        // Seconds left at another moment: another question.
        let later = Context::new(NOW + 5000, NOW_UNIX);
        let order = Order::parse("timeout", "ASC").unwrap();
        let all = Filter::default();
        let moved = tcp(7, "10.0.0.1", 1, "10.0.0.2", 2).with_deadline(NOW + 4000);
        let snap2 = snapshot(vec![moved, tcp(8, "10.0.0.1", 1, "10.0.0.2", 2)]);
        let at = |c: &Context| {
            let p = pages.page(&snap2, &FilterSpec::none(), &all, &order, 0, 10, c);
            ids(&p)
        };
        assert_eq!(at(&ctx), vec![7, 8]);
        assert_eq!(
            at(&later),
            run(&snap2, &all, &order, 0, 10, &later)
                .rows
                .iter()
                .map(|r| r.id())
                .collect::<Vec<_>>()
        );
        // A new snapshot is a new question.
        let other = snapshot(vec![tcp(99, "10.0.0.1", 1, "10.0.0.2", 2)]);
        let order = Order::default();
        let all = Filter::default();
        let page = pages.page(&other, &FilterSpec::none(), &all, &order, 0, 10, &ctx);
        assert_eq!(ids(&page), vec![99]);
    }
}
