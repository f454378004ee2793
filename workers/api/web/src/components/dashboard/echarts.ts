/**
 * The parts of ECharts the dashboard draws with, registered once. Imported only dynamically (by
 * DashboardChart.vue), so ECharts is a chunk of its own, loaded when the dashboard first shows a chart.
 */
import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, SVGRenderer]);

export { echarts };
