/**
 * The script of TrainingWorker's worker. It imports the library's main entry (in the single-file build, the
 * bundle beside it), so a page that already loaded tsgpt loads nothing twice.
 */
import { serveTrainingWorker } from '../index.js';

serveTrainingWorker();
