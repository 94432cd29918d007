//! Ids and metadata of the shown plan's rows, which stay in the worker: components ask
//! for the rows they show (`Request::Describe`) and read the answers from this cache.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use yew::prelude::*;

use crate::protocol::Item;

/// The rows described so far, by row.
#[derive(Debug, Default)]
pub struct Items {
    by_row: HashMap<u32, Item>,
    /// The last answer merged (answers are new `Rc`s).
    last: Option<Rc<Vec<Item>>>,
}

/// One cache is equal only to itself: props compare it by identity (and pass its length
/// to re-render when it grows).
impl PartialEq for Items {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Items {
    /// Row `row`'s item, when the worker has described it.
    pub fn get(&self, row: u32) -> Option<&Item> {
        self.by_row.get(&row)
    }

    /// Rows described so far (changes whenever an answer adds rows).
    pub fn len(&self) -> usize {
        self.by_row.len()
    }

    /// Whether no row is described yet.
    pub fn is_empty(&self) -> bool {
        self.by_row.is_empty()
    }

    /// Merges `answer` unless it is the one merged last.
    fn merge(&mut self, answer: &Rc<Vec<Item>>) {
        if self.last.as_ref().is_some_and(|l| Rc::ptr_eq(l, answer)) {
            return;
        }
        self.by_row.extend(answer.iter().map(|i| (i.row, i.clone())));
        self.last = Some(answer.clone());
    }
}

/// The cache of one plan's described rows, with the worker's latest answer merged in.
#[hook]
pub fn use_items(answer: Option<Rc<Vec<Item>>>) -> Rc<RefCell<Items>> {
    let items = use_mut_ref(Items::default);
    if let Some(answer) = &answer {
        items.borrow_mut().merge(answer);
    }
    items
}
