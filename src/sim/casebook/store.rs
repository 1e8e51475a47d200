//! The in-memory records that the Casebook simulator serves, and the evaluation of
//! parsed filters and sort keys against them.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use super::query::{Field, Filter, Op, Operand, Path, SortKey};
use super::schema::{self, ResourceSchema, Value};
use crate::sim::seed::{CasebookNoteSeed, CasebookPersonSeed, CasebookTaskSeed, Dataset};
use crate::upstream::casebook::names;

/// One stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    /// Attribute values by name. A missing name reads as null.
    pub attributes: BTreeMap<&'static str, Value>,
    /// Related resource ids by relationship name. A to-one relationship has at most one.
    pub relationships: BTreeMap<&'static str, Vec<String>>,
}

impl Record {
    /// Returns the value of an attribute, or null when the record has none.
    pub fn attribute(&self, name: &str) -> Value {
        self.attributes.get(name).cloned().unwrap_or(Value::Null)
    }

    /// Returns the ids linked through a relationship, empty when the record has none.
    pub fn related_ids(&self, relationship: &str) -> &[String] {
        self.relationships
            .get(relationship)
            .map_or(&[][..], Vec::as_slice)
    }

    fn field(&self, field: Field) -> Value {
        match field {
            Field::Id => Value::Text(self.id.clone()),
            Field::Attribute(name) => self.attribute(name),
        }
    }
}

/// Every record, by type name and then by id.
///
/// Collections list records in id order unless the request sorts them, so the default
/// order is stable across requests and independent of seeding order.
#[derive(Debug, Default)]
pub struct Store {
    tables: HashMap<&'static str, BTreeMap<String, Record>>,
}

impl Store {
    /// Builds a store with the Casebook half of every seeded person, with their tasks and
    /// notes (Meeting notes included).
    pub fn from_dataset(dataset: &Dataset) -> Store {
        let mut store = Store::default();
        for person in dataset.people.iter().filter_map(|p| p.casebook.as_ref()) {
            store.insert(&schema::PEOPLE, person_record(person));
            for task in &person.tasks {
                store.insert(&schema::TASKS, task_record(task, &person.id, dataset));
            }
            for note in &person.notes {
                store.insert(&schema::NOTES, note_record(note, &person.id));
            }
        }
        store
    }

    /// Inserts or replaces a record.
    pub fn insert(&mut self, schema: &ResourceSchema, record: Record) {
        self.tables
            .entry(schema.type_name())
            .or_default()
            .insert(record.id.clone(), record);
    }

    /// Looks up the record of this type with this id.
    pub fn get(&self, schema: &ResourceSchema, id: &str) -> Option<&Record> {
        self.tables.get(schema.type_name())?.get(id)
    }

    /// Removes the record of this type with this id and returns it.
    pub fn remove(&mut self, schema: &ResourceSchema, id: &str) -> Option<Record> {
        self.tables.get_mut(schema.type_name())?.remove(id)
    }

    /// Iterates over the records of this type in id order.
    pub fn records(&self, schema: &ResourceSchema) -> impl Iterator<Item = &Record> {
        self.tables
            .get(schema.type_name())
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// Counts the records of this type.
    pub fn len(&self, schema: &ResourceSchema) -> usize {
        self.tables.get(schema.type_name()).map_or(0, BTreeMap::len)
    }

    /// Reports whether the store has no records of this type.
    pub fn is_empty(&self, schema: &ResourceSchema) -> bool {
        self.len(schema) == 0
    }

    /// Selects the records of a type that match `filter`, ordered by `sort` with ties
    /// broken by id.
    pub fn select(
        &self,
        schema: &ResourceSchema,
        filter: &Filter,
        sort: &[SortKey],
    ) -> Vec<&Record> {
        let Some(table) = self.tables.get(schema.type_name()) else {
            return Vec::new();
        };
        let mut selected: Vec<&Record> = table
            .values()
            .filter(|record| self.matches(record, filter))
            .collect();
        // The table iterates in id order and the sort is stable, so equal keys stay in id order.
        selected.sort_by(|left, right| compare_by_keys(left, right, sort));
        selected
    }

    /// Reports whether a record satisfies a filter expression.
    pub fn matches(&self, record: &Record, filter: &Filter) -> bool {
        match filter {
            Filter::All => true,
            Filter::And(parts) => parts.iter().all(|part| self.matches(record, part)),
            Filter::Or(parts) => parts.iter().any(|part| self.matches(record, part)),
            Filter::Not(inner) => !self.matches(record, inner),
            Filter::Compare { path, op, operands } => {
                let values = self.path_values(record, path);
                compare_values(&values, *op, operands)
            }
        }
    }

    /// Collects the values a filter path reaches from a record. A relationship path yields one
    /// value per related record, or a single null when there is no related record, so
    /// `filter[person.id]=null` selects unlinked records.
    fn path_values(&self, record: &Record, path: &Path) -> Vec<Value> {
        let Some(relationship) = path.relationship else {
            return vec![record.field(path.field)];
        };
        let ids = record.related_ids(relationship.name);
        if ids.is_empty() {
            return vec![Value::Null];
        }
        let target = schema::by_type(relationship.target.type_name);
        ids.iter()
            .map(|id| match path.field {
                Field::Id => Value::Text(id.clone()),
                Field::Attribute(name) => target
                    .and_then(|target| self.get(target, id))
                    .map_or(Value::Null, |related| related.attribute(name)),
            })
            .collect()
    }
}

/// Applies one comparison to the values a path reached. Each operator except NEQ holds
/// when any value satisfies it against any operand. NEQ holds when EQ does not.
fn compare_values(values: &[Value], op: Op, operands: &[Operand]) -> bool {
    let equals_any = || {
        operands.iter().any(|operand| match operand {
            Operand::Null => values.contains(&Value::Null),
            Operand::Value(expected) => values.contains(expected),
        })
    };
    match op {
        Op::Eq => equals_any(),
        Op::Neq => !equals_any(),
        Op::Like => operands.iter().any(|operand| match operand {
            Operand::Value(Value::Text(pattern)) => values
                .iter()
                .filter_map(Value::render)
                .any(|text| like(pattern, &text)),
            _ => false,
        }),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => operands.iter().any(|operand| {
            let Operand::Value(bound) = operand else {
                return false;
            };
            values
                .iter()
                .filter(|value| **value != Value::Null)
                .any(|value| {
                    let ordering = value.cmp(bound);
                    match op {
                        Op::Gt => ordering == Ordering::Greater,
                        Op::Ge => ordering != Ordering::Less,
                        Op::Lt => ordering == Ordering::Less,
                        _ => ordering != Ordering::Greater,
                    }
                })
        }),
    }
}

/// Matches text against a LIKE pattern in which `%` stands for any run of characters,
/// including none. Every other character matches itself, case-sensitively.
pub fn like(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('%');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = pieces.collect();
    let Some((last, inner)) = middle.split_last() else {
        // No `%` at all: the whole text must equal the pattern.
        return rest.is_empty();
    };
    for piece in inner {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Orders two records by the sort keys. Null sorts before every other value in
/// ascending order and after it in descending order.
fn compare_by_keys(left: &Record, right: &Record, sort: &[SortKey]) -> Ordering {
    for key in sort {
        let ordering = left.field(key.field).cmp(&right.field(key.field));
        let ordering = if key.descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    left.id.cmp(&right.id)
}

fn person_record(person: &CasebookPersonSeed) -> Record {
    use names::person::*;

    let attributes = BTreeMap::from([
        (FIRST_NAME, Value::Text(person.first_name.clone())),
        (LAST_NAME, Value::Text(person.last_name.clone())),
        (EMAIL, Value::text(person.email.as_deref())),
        (PHONE, Value::text(person.phone.as_deref())),
        (DATE_OF_BIRTH, date_value(&person.date_of_birth)),
        (CREATED_AT, Value::DateTime(person.created_at)),
        (UPDATED_AT, Value::DateTime(person.updated_at)),
    ]);
    Record {
        id: person.id.clone(),
        attributes,
        relationships: BTreeMap::new(),
    }
}

/// Parses a seeded `YYYY-MM-DD` date. The seed writes only valid dates, but anything
/// else is kept as text so that it still reaches the client unchanged.
fn date_value(date: &str) -> Value {
    schema::AttrKind::Date
        .parse(date)
        .unwrap_or_else(|_| Value::Text(date.to_string()))
}

fn task_record(task: &CasebookTaskSeed, person_id: &str, dataset: &Dataset) -> Record {
    use names::task::*;

    // NOTE: the seed records only whether a task is done, not when. A completed task is
    // given the earlier of its due date and the data set's anchor as its completion time.
    let completed_at = task.completed.then(|| task.due_at.min(dataset.anchor));
    let status = if task.completed {
        STATUS_COMPLETED
    } else {
        STATUS_OPEN
    };
    let attributes = BTreeMap::from([
        (TITLE, Value::Text(task.title.clone())),
        (DESCRIPTION, Value::Text(task.description.clone())),
        (DUE_AT, Value::DateTime(task.due_at)),
        (STATUS, Value::Text(status.to_string())),
        (COMPLETED_AT, Value::date_time(completed_at)),
        (CREATED_AT, Value::DateTime(task.created_at)),
        (
            UPDATED_AT,
            Value::DateTime(completed_at.unwrap_or(task.created_at)),
        ),
    ]);
    Record {
        id: task.id.clone(),
        attributes,
        relationships: BTreeMap::from([(PERSON, vec![person_id.to_string()])]),
    }
}

fn note_record(note: &CasebookNoteSeed, person_id: &str) -> Record {
    use names::note::*;

    let attributes = BTreeMap::from([
        (SUBJECT, Value::Text(note.subject.clone())),
        (BODY, Value::Text(note.body.clone())),
        (NOTE_TYPE, Value::Text(note.note_type.clone())),
        (OCCURRED_AT, Value::date_time(note.occurred_at)),
        (ENDS_AT, Value::date_time(note.ends_at)),
        (CREATED_AT, Value::DateTime(note.created_at)),
        (UPDATED_AT, Value::DateTime(note.created_at)),
    ]);
    Record {
        id: note.id.clone(),
        attributes,
        relationships: BTreeMap::from([(PEOPLE, vec![person_id.to_string()])]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::casebook::query::{self, ParseOptions, Target};
    use crate::sim::seed::Dataset;

    fn dataset() -> Dataset {
        Dataset::generate(7, 60)
    }

    /// Parses a query and returns the ids it selects.
    fn select_ids(store: &Store, schema: &'static ResourceSchema, raw: &str) -> Vec<String> {
        let options = ParseOptions {
            max_page_size: 100,
            strict: true,
        };
        let query = query::parse(raw, schema, Target::Collection, options).unwrap();
        store
            .select(schema, &query.filter, &query.sort)
            .into_iter()
            .map(|record| record.id.clone())
            .collect()
    }

    #[test]
    fn seeding_stores_every_casebook_record() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        let people: Vec<_> = data
            .people
            .iter()
            .filter_map(|p| p.casebook.as_ref())
            .collect();
        let tasks: usize = people.iter().map(|p| p.tasks.len()).sum();
        let notes: usize = people.iter().map(|p| p.notes.len()).sum();
        assert_eq!(store.len(&schema::PEOPLE), people.len());
        assert_eq!(store.len(&schema::TASKS), tasks);
        assert_eq!(store.len(&schema::NOTES), notes);
        assert!(!store.is_empty(&schema::NOTES));
    }

    #[test]
    fn seeded_values_are_kept_as_written() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        for person in data.people.iter().filter_map(|p| p.casebook.as_ref()) {
            let record = store.get(&schema::PEOPLE, &person.id).unwrap();
            assert_eq!(
                record.attribute("email"),
                Value::text(person.email.as_deref())
            );
            assert_eq!(
                record.attribute("phone"),
                Value::text(person.phone.as_deref())
            );
            assert_eq!(
                record.attribute("date_of_birth").render().as_deref(),
                Some(person.date_of_birth.as_str())
            );
        }
    }

    #[test]
    fn tasks_and_notes_link_their_person() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        let person = data
            .people
            .iter()
            .filter_map(|p| p.casebook.as_ref())
            .find(|p| !p.tasks.is_empty() && !p.notes.is_empty())
            .unwrap();
        let task = store.get(&schema::TASKS, &person.tasks[0].id).unwrap();
        assert_eq!(task.related_ids("person"), std::slice::from_ref(&person.id));
        let expected_status = if person.tasks[0].completed {
            "completed"
        } else {
            "open"
        };
        assert_eq!(
            task.attribute("status"),
            Value::Text(expected_status.to_string())
        );
        let note = store.get(&schema::NOTES, &person.notes[0].id).unwrap();
        assert_eq!(note.related_ids("people"), std::slice::from_ref(&person.id));
    }

    #[test]
    fn default_order_is_by_id() {
        let store = Store::from_dataset(&dataset());
        let ids = select_ids(&store, &schema::PEOPLE, "");
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn sort_descending_breaks_ties_by_id() {
        let store = Store::from_dataset(&dataset());
        let ids = select_ids(&store, &schema::PEOPLE, "sort=-last_name");
        let records: Vec<&Record> = ids
            .iter()
            .map(|id| store.get(&schema::PEOPLE, id).unwrap())
            .collect();
        for pair in records.windows(2) {
            let (left, right) = (
                pair[0].attribute("last_name"),
                pair[1].attribute("last_name"),
            );
            assert!(left >= right);
            if left == right {
                assert!(pair[0].id < pair[1].id);
            }
        }
    }

    #[test]
    fn exact_filter_is_case_sensitive() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        let person = data
            .people
            .iter()
            .find_map(|p| p.casebook.as_ref())
            .unwrap();
        let raw = format!("filter[first_name]={}", person.first_name);
        let ids = select_ids(&store, &schema::PEOPLE, &raw);
        assert!(ids.contains(&person.id));
        let raw = format!("filter[first_name]={}", person.first_name.to_uppercase());
        assert!(select_ids(&store, &schema::PEOPLE, &raw).is_empty());
    }

    #[test]
    fn null_and_neq_select_complements() {
        let store = Store::from_dataset(&dataset());
        let all = select_ids(&store, &schema::PEOPLE, "").len();
        let without = select_ids(&store, &schema::PEOPLE, "filter[phone]=null").len();
        let with = select_ids(&store, &schema::PEOPLE, "filter[phone][NEQ]=null").len();
        assert!(without > 0);
        assert!(with > 0);
        assert_eq!(without + with, all);
    }

    #[test]
    fn relationship_filter_selects_by_person() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        let people: Vec<_> = data
            .people
            .iter()
            .filter_map(|p| p.casebook.as_ref())
            .filter(|p| !p.notes.is_empty())
            .take(2)
            .collect();
        let raw = format!("filter[people.id]={},{}", people[0].id, people[1].id);
        let mut ids = select_ids(&store, &schema::NOTES, &raw);
        ids.sort();
        let mut expected: Vec<String> = people
            .iter()
            .flat_map(|p| p.notes.iter().map(|n| n.id.clone()))
            .collect();
        expected.sort();
        assert_eq!(ids, expected);

        let raw = format!("filter[person.last_name]={}", people[0].last_name);
        for id in select_ids(&store, &schema::TASKS, &raw) {
            let task = store.get(&schema::TASKS, &id).unwrap();
            let owner = store
                .get(&schema::PEOPLE, &task.related_ids("person")[0])
                .unwrap();
            assert_eq!(
                owner.attribute("last_name"),
                Value::Text(people[0].last_name.clone())
            );
        }
    }

    #[test]
    fn date_time_comparisons_use_instants() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        let ids = select_ids(
            &store,
            &schema::TASKS,
            "filter[due_at][GE]=2026-01-01T00:00:00Z&filter[due_at][LT]=2026-02-01T00:00:00%2B00:00",
        );
        assert!(!ids.is_empty());
        for id in ids {
            let due = store.get(&schema::TASKS, &id).unwrap().attribute("due_at");
            let rendered = due.render().unwrap();
            assert!(rendered.starts_with("2026-01-"), "{rendered}");
        }
    }

    #[test]
    fn like_matches_wildcards_case_sensitively() {
        assert!(like("%an%", "Samantha"));
        assert!(like("Ada", "Ada"));
        assert!(!like("Ada", "Adam"));
        assert!(like("Ad%", "Adam"));
        assert!(like("%am", "Adam"));
        assert!(!like("%AN%", "Samantha"));
        assert!(like("a%b%c", "abc"));
        assert!(!like("a%a", "a"));
        assert!(like("%", ""));
        assert!(like("%%", "x"));
        assert!(!like("", "x"));
    }

    #[test]
    fn json_filter_combines_or_and_not() {
        let data = dataset();
        let store = Store::from_dataset(&data);
        let raw = r#"{"OR":[{"first_name":{"LIKE":"%an%"}},{"last_name":{"LIKE":"%an%"}}],"NOT":{"email":null}}"#;
        let encoded: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        let ids = select_ids(&store, &schema::PEOPLE, &format!("filter={encoded}"));
        let expected: Vec<&CasebookPersonSeed> = data
            .people
            .iter()
            .filter_map(|p| p.casebook.as_ref())
            .filter(|p| p.first_name.contains("an") || p.last_name.contains("an"))
            .filter(|p| p.email.is_some())
            .collect();
        assert_eq!(ids.len(), expected.len());
        assert!(!ids.is_empty());
    }
}
