/**
 * Pictures of a run, as strings: SVG loss curves and attention heatmaps, terminal curves, and self-contained
 * HTML pages. Everything here is pure (numbers and text in, markup out) and uses no Node API, so it runs in a
 * browser too; the tsgpt commands do the file reading and writing.
 */
export { escapeXml } from './escape.js';
export { niceTicks, niceStep, formatTick, linearScale, type Ticks } from './scale.js';
export { svgDocument, inlineSvg, type SvgDocument } from './svg.js';
export { runColour, weightColour } from './palette.js';
export { parseLossLog, bestEval, downsampleSteps, type LossLog, type StepPoint, type EvalPoint } from './loss_log.js';
export { lossCurveSvg, type LossCurveRun, type LossCurveOptions } from './loss_curve.js';
export { terminalLossCurve, type TerminalCurveOptions } from './terminal_curve.js';
export { visibleToken, visibleText } from './tokens.js';
export { meanOverHeads, causalRowError } from './attention_matrix.js';
export { attentionHeatmapSvg, type HeatmapOptions } from './heatmap.js';
export { queryBarsSvg, type QueryBarsRow, type QueryBarsOptions } from './query_bars.js';
export { htmlPage, figure, keyValueTable, type PageOptions } from './html.js';
export {
  attentionFigures,
  attentionSections,
  attentionPageHtml,
  ATTENTION_FILE_PATTERN,
  HOW_TO_READ_ATTENTION,
  type AttentionInput,
  type AttentionFigure,
  type AttentionPageOptions,
} from './attention_page.js';
export { runReportHtml, formatParameters, type RunReportInput, type ReportSample } from './report_page.js';
