# The R peers of the forecasting benchmark. One process runs ONE method over every training
# file in a directory, so the harness can time each peer as a whole process (R start-up and
# package loading included, as for Umbra's CLI).
#
# Usage: Rscript peers.R <snaive|stlf|prophet> <input dir> <output dir> <horizon steps> <levels>
#   input:  <stem>.csv files with header `timestamp,value` (epoch seconds, regular grid)
#   output: <stem>.csv with header `t,mean,lo80,hi80,lo95,hi95` (one row per horizon step)
# A file whose fit fails is reported on stderr as `FAIL <stem>: <message>` and skipped.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 5) {
  stop("usage: Rscript peers.R <snaive|stlf|prophet> <input dir> <output dir> <horizon steps> <levels>")
}
method <- args[[1]]
in_dir <- args[[2]]
out_dir <- args[[3]]
h <- as.integer(args[[4]])
levels <- as.numeric(strsplit(args[[5]], ",")[[1]])

suppressPackageStartupMessages({
  if (method == "prophet") library(prophet) else library(forecast)
})
set.seed(20130801)

# Periods in steps, from the grid's step (the harness writes a regular grid).
periods_of <- function(ts_sec) {
  step <- median(diff(ts_sec))
  daily <- round(86400 / step)
  c(daily = daily, weekly = 7 * daily, step = step)
}

# Returns a data frame t, mean, lo<L>, hi<L> for each level.
fit_forecast <- function(d) {
  p <- periods_of(d$timestamp)
  y <- d$value
  last <- d$timestamp[nrow(d)]
  t_out <- last + p[["step"]] * seq_len(h)
  out <- data.frame(t = t_out)
  if (method == "snaive") {
    fc <- snaive(ts(y, frequency = p[["weekly"]]), h = h, level = levels)
  } else if (method == "stlf") {
    fc <- stlf(msts(y, seasonal.periods = c(p[["daily"]], p[["weekly"]])), h = h, level = levels)
  } else if (method == "prophet") {
    df <- data.frame(ds = as.POSIXct(d$timestamp, origin = "1970-01-01", tz = "UTC"), y = y)
    m <- prophet(df, daily.seasonality = TRUE, weekly.seasonality = TRUE, yearly.seasonality = FALSE)
    future <- data.frame(ds = as.POSIXct(t_out, origin = "1970-01-01", tz = "UTC"))
    # Point forecast without prophet's own interval sampling (uncertainty.samples = 0 skips it),
    # then ONE round of predictive samples for every level: the same work a user asking for
    # two interval levels needs, no more.
    n_samples <- m$uncertainty.samples
    m$uncertainty.samples <- 0
    out$mean <- predict(m, future)$yhat
    m$uncertainty.samples <- n_samples
    sims <- predictive_samples(m, future)$yhat
    for (l in levels) {
      a <- (1 - l / 100) / 2
      q <- apply(sims, 1, quantile, probs = c(a, 1 - a), names = FALSE)
      out[[paste0("lo", l)]] <- q[1, ]
      out[[paste0("hi", l)]] <- q[2, ]
    }
    return(out)
  } else {
    stop(paste("unknown method", method))
  }
  out$mean <- as.numeric(fc$mean)
  for (i in seq_along(levels)) {
    out[[paste0("lo", levels[[i]])]] <- as.numeric(fc$lower[, i])
    out[[paste0("hi", levels[[i]])]] <- as.numeric(fc$upper[, i])
  }
  out
}

dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
files <- sort(list.files(in_dir, pattern = "\\.csv$", full.names = TRUE))
failed <- 0
for (f in files) {
  stem <- sub("\\.csv$", "", basename(f))
  res <- tryCatch({
    d <- read.csv(f, colClasses = c("numeric", "numeric"))
    fit_forecast(d)
  }, error = function(e) {
    message(sprintf("FAIL %s: %s", stem, conditionMessage(e)))
    NULL
  })
  if (is.null(res)) {
    failed <- failed + 1
  } else {
    write.csv(res, file.path(out_dir, paste0(stem, ".csv")), row.names = FALSE)
  }
}
message(sprintf("%s: %d files, %d failed", method, length(files), failed))
