/** Reports: SVG forecast plots and the summary page. Pure: strings out, no I/O. */
export { type ForecastPlotInput, renderForecastSvg, defaultTailSteps, valueRange } from './forecast-svg.js';
export { type SummaryItem, type SummaryFailure, type SummaryOptions, type HorizonStat, renderSummaryHtml, renderSummaryMarkdown, horizonStats, plotFileName } from './summary.js';
export { niceTicks, formatTicks, formatValue, timeTicks, timeTickLabel, formatUtcDate, formatUtcTime, formatUtcDateTime } from './ticks.js';
export { escapeXml } from './xml.js';
