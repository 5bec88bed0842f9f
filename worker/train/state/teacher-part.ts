/**
 * The robust self-training teacher as a checkpoint part: its weights and the
 * pool's pseudo-labels (stored exactly: class indices are small integers).
 * A run-scoped part: rank 0 writes it, every rank loads it, so a resume
 * skips the teacher's training.
 */
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../checkpoint/checkpoint-part.js';
import { TEACHER_ORIGINS, type TeacherState } from '../unlabeled/teacher-state.js';

export const TEACHER_PART = 'teacher';
const WEIGHTS = 'weights';
const LABELS = 'pseudo-labels';

/** The meta of the teacher part: the counts the tensors must hold. */
interface TeacherMeta {
  readonly labels: number;
  readonly weights: number;
}

export function createTeacherPart(state: TeacherState): CheckpointPart {
  return {
    key: TEACHER_PART,
    scope: PART_SCOPES.run,
    save: () => encodeTeacher(state),
    check: (saved) => checkTeacher(saved),
    load: (saved) => state.set({ labels: Int32Array.from(saved.tensors.get(LABELS)!), weights: saved.tensors.get(WEIGHTS)! }, TEACHER_ORIGINS.checkpoint),
  };
}

/** Nothing to save before the teacher has labelled the pool. */
function encodeTeacher(state: TeacherState): SavedPart | undefined {
  const snap = state.snapshot();
  if (snap === undefined) return undefined;
  return {
    meta: { labels: snap.labels.length, weights: snap.weights.length } satisfies TeacherMeta,
    tensors: new Map([
      [WEIGHTS, snap.weights],
      [LABELS, Float32Array.from(snap.labels)],
    ]),
  };
}

function checkTeacher(saved: SavedPart): string | undefined {
  const meta = saved.meta as Partial<TeacherMeta> | undefined;
  const labels = saved.tensors.get(LABELS);
  const weights = saved.tensors.get(WEIGHTS);
  if (labels === undefined || weights === undefined) return `${TEACHER_PART}/${labels === undefined ? LABELS : WEIGHTS} is missing`;
  if (labels.length !== meta?.labels || weights.length !== meta.weights) return `${labels.length} labels and ${weights.length} weights, its configuration says ${String(meta?.labels)} and ${String(meta?.weights)}`;
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i]) || labels[i]! < 0) return `pseudo-label ${labels[i]} at index ${i} is not a class index`;
  }
  return undefined;
}
