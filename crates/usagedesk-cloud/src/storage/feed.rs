//! The change feed and the tree reads of reports.

use std::collections::HashMap;
use usagedesk_domain::api::Change;

use usagedesk_domain::{Account, YearMonth};

use super::tenants::{MonthRow, SubtreeAccount};
use super::{StoreError, TokenScope};

/// A page of the change feed after a cursor.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    pub next_cursor: String,
    pub has_more: bool,
    pub remaining: Option<u64>,
}

/// Feed entries after a position, as the engine reads them; [`crate::feed`] turns them into a
/// [`FeedPage`] with a cursor.
#[derive(Debug, Clone)]
pub struct FeedRows {
    pub changes: Vec<Change>,
    /// Where the page ends (the position asked after when it is empty): its last entry's
    /// position, or a later one before the next entry the scope may see.
    pub last_seq: u64,
    pub has_more: bool,
    /// Entries of the scope after the position (bounded; a lower bound on a long feed), when
    /// asked for.
    pub remaining: Option<u64>,
    /// The highest position the feed has handed out; a position beyond it was never issued by
    /// this database.
    pub head: u64,
}

/// The change feed: every change of an entity moves it to the feed's head (a new, higher
/// position); tombstones record accounts that left a scope.
pub trait Feed {
    /// The page of `scope`'s feed after `cursor` (`None`: from the start), by the cursor rules
    /// of [`crate::feed::page`].
    fn changes(
        &self,
        scope: &TokenScope,
        cursor: Option<&str>,
        limit: usize,
        count: bool,
    ) -> Result<FeedPage, StoreError> {
        crate::feed::page(self, scope, cursor, limit, count)
    }

    /// The dataset epoch cursors carry: a cursor of another epoch belongs to another dataset.
    fn feed_epoch(&self) -> Result<String, StoreError>;

    /// Up to `limit` entries `scope` may see after position `after_seq` (0: from the start),
    /// in position order; with `count`, how many follow.
    fn feed_after(
        &self,
        scope: &TokenScope,
        after_seq: u64,
        limit: usize,
        count: bool,
    ) -> Result<FeedRows, StoreError>;

    /// The accounts of `root`'s subtree, `root` included, in any order.
    fn subtree_accounts(&self, root: &str) -> Result<Vec<Account>, StoreError>;

    /// The subtree of `root` in tree order (see [`tree_order`]).
    fn subtree(&self, root: &str) -> Result<Vec<SubtreeAccount>, StoreError> {
        Ok(tree_order(root, self.subtree_accounts(root)?))
    }

    /// Month-end rows of `root`'s subtree for months `from..=to`.
    fn subtree_month_rows(
        &self,
        root: &str,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthRow>, StoreError>;
}

/// Orders a subtree depth-first, siblings by name then id, with depths below `root`.
pub fn tree_order(root: &str, accounts: Vec<Account>) -> Vec<SubtreeAccount> {
    let mut children: HashMap<&str, Vec<&Account>> = HashMap::new();
    let mut top = None;
    for a in &accounts {
        if a.id == root {
            top = Some(a);
        } else if let Some(p) = &a.parent_id {
            children.entry(p.as_str()).or_default().push(a);
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    }
    let mut out = Vec::with_capacity(accounts.len());
    let mut stack: Vec<(&Account, u32)> = top.into_iter().map(|a| (a, 0)).collect();
    while let Some((a, depth)) = stack.pop() {
        out.push(SubtreeAccount {
            account: a.clone(),
            depth,
        });
        if let Some(kids) = children.get(a.id.as_str()) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}
