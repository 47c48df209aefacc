//! The aggregate machinery shared by Herd's per-unit stream functions (`herd_funnel`, `herd_retention`): each
//! takes `(ts, seq, mask, label)` rows of one unit (a user, or a group value), keeps them compactly, and hands
//! them to an evaluator once all are in. A row accumulator and a vectorised groups accumulator implement the same
//! contract; partial states are four list columns, so the two-phase plans DataFusion picks work unchanged.
//!
//! The result of every function is `STRUCT(entry_ts BIGINT, label VARCHAR, times LIST<BIGINT>)`, NULL for units
//! that never entered; what the fields mean is up to the evaluator.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, Int64Builder, ListArray, StringArray, StringBuilder,
    StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility};

use super::funnel_steps::StepEvent;

/// One unit's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnitResult {
    pub entry_ts: i64,
    /// Index into the accumulator's label table.
    pub label: u32,
    pub times: Vec<i64>,
}

/// What a stream function computes from one unit's events.
pub(crate) trait UnitEvaluator: Debug + Clone + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// The SQL name.
    fn name(&self) -> &'static str;
    /// The answer for one unit (events in any order), `None` when it did not enter.
    fn evaluate(&self, events: &mut [StepEvent]) -> Option<UnitResult>;
}

/// A stream function as a DataFusion aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct StreamUdaf<E> {
    signature: Signature,
    evaluator: E,
}

impl<E: UnitEvaluator> StreamUdaf<E> {
    pub(crate) fn new(evaluator: E) -> StreamUdaf<E> {
        StreamUdaf { signature: Signature::any(4, Volatility::Immutable), evaluator }
    }
}

fn times_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Int64, false))
}

/// The result fields.
pub(crate) fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("entry_ts", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("times", DataType::List(times_field()), false),
    ])
}

impl<E: UnitEvaluator> AggregateUDFImpl for StreamUdaf<E> {
    fn name(&self) -> &str {
        self.evaluator.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RowAccumulator {
            evaluator: self.evaluator.clone(),
            events: Vec::new(),
            labels: Labels::default(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, t: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::List(Arc::new(Field::new_list_field(t, false))),
                true,
            ))
        };
        Ok(vec![
            list("ts", DataType::Int64),
            list("seq", DataType::Int64),
            list("mask", DataType::Int64),
            list("label", DataType::Utf8),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(StreamGroupsAccumulator {
            evaluator: self.evaluator.clone(),
            groups: Vec::new(),
            events: 0,
            labels: Labels::default(),
        }))
    }
}

/// Group-by values seen by one accumulator, each stored once.
#[derive(Debug, Default)]
struct Labels {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Labels {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }

    fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map(String::as_str).unwrap_or(herd_model::report::NONE_LABEL)
    }

    fn size(&self) -> usize {
        self.names.iter().map(|n| 2 * n.len() + 48).sum()
    }
}

/// Input rows decoded to typed columns.
struct Columns {
    ts: Int64Array,
    seq: Int64Array,
    mask: Int64Array,
    label: StringArray,
}

impl Columns {
    fn decode(values: &[ArrayRef]) -> Result<Columns> {
        let int =
            |a: &ArrayRef| -> Result<Int64Array> { Ok(cast(a, &DataType::Int64)?.as_primitive::<Int64Type>().clone()) };
        Ok(Columns {
            ts: int(&values[0])?,
            seq: int(&values[1])?,
            mask: int(&values[2])?,
            label: cast(&values[3], &DataType::Utf8)?.as_string::<i32>().clone(),
        })
    }

    /// Row `i` as an event, `None` when its time is NULL (nothing to place it by).
    fn event(&self, i: usize, labels: &mut Labels) -> Option<StepEvent> {
        if self.ts.is_null(i) {
            return None;
        }
        let label = if self.label.is_valid(i) { self.label.value(i) } else { herd_model::report::NONE_LABEL };
        Some(StepEvent {
            ts: self.ts.value(i),
            seq: if self.seq.is_valid(i) { self.seq.value(i) } else { 0 },
            mask: if self.mask.is_valid(i) { self.mask.value(i) as u64 } else { 0 },
            label: labels.intern(label),
        })
    }
}

/// Partial state columns (four lists) for `groups`.
fn state_arrays(groups: &[Vec<StepEvent>], labels: &Labels) -> Vec<ArrayRef> {
    let total: usize = groups.iter().map(Vec::len).sum();
    let mut ts = Int64Builder::with_capacity(total);
    let mut seq = Int64Builder::with_capacity(total);
    let mut mask = Int64Builder::with_capacity(total);
    let mut label = StringBuilder::with_capacity(total, total * 8);
    for e in groups.iter().flatten() {
        ts.append_value(e.ts);
        seq.append_value(e.seq);
        mask.append_value(e.mask as i64);
        label.append_value(labels.name(e.label));
    }
    let offsets = OffsetBuffer::from_lengths(groups.iter().map(Vec::len));
    let list = |t: DataType, values: ArrayRef| -> ArrayRef {
        Arc::new(ListArray::new(Arc::new(Field::new_list_field(t, false)), offsets.clone(), values, None))
    };
    vec![
        list(DataType::Int64, Arc::new(ts.finish())),
        list(DataType::Int64, Arc::new(seq.finish())),
        list(DataType::Int64, Arc::new(mask.finish())),
        list(DataType::Utf8, Arc::new(label.finish())),
    ]
}

/// Calls `f(row, event)` for every event in partial-state rows.
fn each_state_event(states: &[ArrayRef], labels: &mut Labels, mut f: impl FnMut(usize, StepEvent)) -> Result<()> {
    let lists: Vec<&ListArray> = states.iter().map(|a| a.as_list::<i32>()).collect();
    let flat: Vec<ArrayRef> = lists.iter().map(|l| l.values().clone()).collect();
    let columns = Columns::decode(&flat)?;
    let offsets = lists[0].value_offsets();
    for row in 0..lists[0].len() {
        if lists[0].is_null(row) {
            continue;
        }
        for i in offsets[row] as usize..offsets[row + 1] as usize {
            if let Some(e) = columns.event(i, labels) {
                f(row, e);
            }
        }
    }
    Ok(())
}

/// The result column for `results`.
fn result_array(results: Vec<Option<UnitResult>>, labels: &Labels) -> ArrayRef {
    let mut entry = Int64Builder::with_capacity(results.len());
    let mut label = StringBuilder::new();
    let mut times = Int64Builder::new();
    let mut lengths = Vec::with_capacity(results.len());
    let valid: Vec<bool> = results.iter().map(Option::is_some).collect();
    for r in &results {
        match r {
            Some(r) => {
                entry.append_value(r.entry_ts);
                label.append_value(labels.name(r.label));
                times.append_slice(&r.times);
                lengths.push(r.times.len());
            }
            None => {
                entry.append_value(0);
                label.append_value("");
                lengths.push(0);
            }
        }
    }
    let times = ListArray::new(times_field(), OffsetBuffer::from_lengths(lengths), Arc::new(times.finish()), None);
    let arrays: Vec<ArrayRef> = vec![Arc::new(entry.finish()), Arc::new(label.finish()), Arc::new(times)];
    Arc::new(StructArray::new(result_fields(), arrays, Some(NullBuffer::from(valid))))
}

fn events_size(events: &[StepEvent]) -> usize {
    std::mem::size_of_val(events)
}

/// One unit at a time (DataFusion uses it where no groups accumulator fits).
#[derive(Debug)]
struct RowAccumulator<E> {
    evaluator: E,
    events: Vec<StepEvent>,
    labels: Labels,
}

impl<E: UnitEvaluator> Accumulator for RowAccumulator<E> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let columns = Columns::decode(values)?;
        for i in 0..columns.ts.len() {
            if let Some(e) = columns.event(i, &mut self.labels) {
                self.events.push(e);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let events = &mut self.events;
        each_state_event(states, &mut self.labels, |_, e| events.push(e))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let arrays = state_arrays(std::slice::from_ref(&self.events), &self.labels);
        arrays.iter().map(|a| ScalarValue::try_from_array(a, 0)).collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let result = self.evaluator.evaluate(&mut self.events);
        ScalarValue::try_from_array(&result_array(vec![result], &self.labels), 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + events_size(&self.events) + self.labels.size()
    }
}

/// Every unit of a batch at once, indexed by DataFusion's group indices.
#[derive(Debug)]
struct StreamGroupsAccumulator<E> {
    evaluator: E,
    groups: Vec<Vec<StepEvent>>,
    /// Events held, for `size` (which must not walk every group).
    events: usize,
    labels: Labels,
}

impl<E: UnitEvaluator> StreamGroupsAccumulator<E> {
    fn grow(&mut self, total_num_groups: usize) {
        if self.groups.len() < total_num_groups {
            self.groups.resize_with(total_num_groups, Vec::new);
        }
    }
}

impl<E: UnitEvaluator> GroupsAccumulator for StreamGroupsAccumulator<E> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let columns = Columns::decode(values)?;
        for (i, g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
                continue;
            }
            if let Some(e) = columns.event(i, &mut self.labels) {
                self.groups[*g].push(e);
                self.events += 1;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut taken = emit_to.take_needed(&mut self.groups);
        self.events -= taken.iter().map(Vec::len).sum::<usize>();
        let results = taken.iter_mut().map(|events| self.evaluator.evaluate(events)).collect();
        Ok(result_array(results, &self.labels))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let taken = emit_to.take_needed(&mut self.groups);
        self.events -= taken.iter().map(Vec::len).sum::<usize>();
        Ok(state_arrays(&taken, &self.labels))
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.grow(total_num_groups);
        let (groups, events) = (&mut self.groups, &mut self.events);
        each_state_event(values, &mut self.labels, |row, e| {
            groups[group_indices[row]].push(e);
            *events += 1;
        })
    }

    /// Each row its own one-event state, for when pre-aggregation does not pay (many units, few rows each).
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let columns = Columns::decode(values)?;
        let mut labels = Labels::default();
        let rows: Vec<Vec<StepEvent>> = (0..columns.ts.len())
            .map(|i| {
                let keep = opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
                keep.then(|| columns.event(i, &mut labels)).flatten().into_iter().collect()
            })
            .collect();
        Ok(state_arrays(&rows, &labels))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.groups.capacity() * std::mem::size_of::<Vec<StepEvent>>()
            + self.events * std::mem::size_of::<StepEvent>()
            + self.labels.size()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `udaf` over `(group, ts, seq, mask, label)` rows both ways — the row accumulator per group, and the
    /// groups accumulator over all rows in two batches with a state round trip — and returns both answers.
    pub(crate) fn both_ways<E: UnitEvaluator>(
        evaluator: E,
        rows: &[(usize, i64, i64, i64, &str)],
        groups: usize,
    ) -> (Vec<ScalarValue>, Vec<ScalarValue>) {
        let batch = |rows: &[(usize, i64, i64, i64, &str)]| -> Vec<ArrayRef> {
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.4))),
            ]
        };
        let mut by_row = Vec::new();
        for g in 0..groups {
            let mine: Vec<_> = rows.iter().copied().filter(|r| r.0 == g).collect();
            let mut acc =
                RowAccumulator { evaluator: evaluator.clone(), events: Vec::new(), labels: Labels::default() };
            let (a, b) = mine.split_at(mine.len() / 2);
            acc.update_batch(&batch(a)).unwrap();
            // The second half goes through a partial state, as in a two-phase plan.
            let mut other =
                RowAccumulator { evaluator: evaluator.clone(), events: Vec::new(), labels: Labels::default() };
            other.update_batch(&batch(b)).unwrap();
            let state: Vec<ArrayRef> = other.state().unwrap().iter().map(|s| s.to_array().unwrap()).collect();
            acc.merge_batch(&state).unwrap();
            by_row.push(acc.evaluate().unwrap());
        }
        let mut partial = StreamGroupsAccumulator {
            evaluator: evaluator.clone(),
            groups: vec![],
            events: 0,
            labels: Labels::default(),
        };
        let (a, b) = rows.split_at(rows.len() / 2);
        partial.update_batch(&batch(a), &a.iter().map(|r| r.0).collect::<Vec<_>>(), None, groups).unwrap();
        let mut fin = StreamGroupsAccumulator { evaluator, groups: vec![], events: 0, labels: Labels::default() };
        fin.update_batch(&batch(b), &b.iter().map(|r| r.0).collect::<Vec<_>>(), None, groups).unwrap();
        let state = partial.state(EmitTo::All).unwrap();
        fin.merge_batch(&state, &(0..groups).collect::<Vec<_>>(), groups).unwrap();
        let out = fin.evaluate(EmitTo::All).unwrap();
        let by_groups = (0..groups).map(|g| ScalarValue::try_from_array(&out, g).unwrap()).collect();
        (by_row, by_groups)
    }
}
