//! Month-end usage ([`UsageHandle`]): the months with data, an account's month, the rows of a
//! usage report and the trend of a subtree. The export's rows are in `report.rs`.

use chrono::NaiveDate;
use usagedesk_domain::{AccountMonthUsage, Scope, YearMonth};

use crate::{codec, CacheError, Result, TrendPoint, UsageHandle};

impl UsageHandle<'_> {
    /// One account's month: own month-end usage and subtree totals for every catalog plan.
    pub fn account_month(&self, id: &str, month: YearMonth) -> Result<AccountMonthUsage> {
        self.cache
            .accounts()
            .row(id, month)?
            .map(|r| r.usage)
            .ok_or_else(|| CacheError::UnknownAccount { id: id.to_owned() })
    }

    /// Months that have month-end rows (as of the last rebuild), oldest first.
    pub fn months(&self) -> Result<Vec<YearMonth>> {
        let mut st = self
            .cache
            .conn
            .prepare_cached("SELECT month FROM months ORDER BY month")?;
        let mut rows = st.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(codec::parse_month(r.get_ref(0)?.as_str()?)?);
        }
        Ok(out)
    }

    /// [`UsageHandle::months`] whose last day is before `today`.
    pub fn completed_months(&self, today: NaiveDate) -> Result<Vec<YearMonth>> {
        Ok(self
            .months()?
            .into_iter()
            .filter(|m| m.is_completed(today))
            .collect())
    }

    /// The rows of a usage report for one month: `account` and, by `scope`, its direct
    /// children or its whole subtree, in tree order.
    pub fn rows(
        &self,
        account: &str,
        month: YearMonth,
        scope: Scope,
    ) -> Result<Vec<AccountMonthUsage>> {
        self.rows_for_months(account, &[month], scope)
    }

    /// The rows of a usage report over several months: accounts in tree order, then by
    /// month in the order given (the row order of the monthly-usage-summary endpoint).
    pub fn rows_for_months(
        &self,
        account: &str,
        months: &[YearMonth],
        scope: Scope,
    ) -> Result<Vec<AccountMonthUsage>> {
        let mut out = Vec::new();
        self.cache
            .accounts()
            .for_each_in_tree_order(Some(account), scope.max_depth(), |e| {
                for m in months {
                    let row = self
                        .cache
                        .accounts()
                        .row(&e.account.id, *m)?
                        .ok_or_else(|| CacheError::UnknownAccount {
                            id: e.account.id.clone(),
                        })?;
                    out.push(row.usage);
                }
                Ok::<_, CacheError>(())
            })?;
        Ok(out)
    }

    /// The subtree totals per plan (and availability counts) of `account` for each month.
    pub fn trend(&self, account: &str, months: &[YearMonth]) -> Result<Vec<TrendPoint>> {
        self.cache.require(account)?;
        months
            .iter()
            .map(|m| {
                let row = self.cache.accounts().row(account, *m)?.ok_or_else(|| {
                    CacheError::UnknownAccount {
                        id: account.to_owned(),
                    }
                })?;
                Ok(TrendPoint {
                    month: *m,
                    totals: row.usage.totals,
                    subtree: row.subtree,
                })
            })
            .collect()
    }
}
